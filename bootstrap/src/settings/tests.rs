//! The settings tree: layers, masking, markets.

use domain::chain::Conventions;
use domain::expiry::TimeBasis;
use domain::pricing::PricingModel;

use super::*;

#[test]
fn the_embedded_default_loads_with_no_files() {
    let s = Settings::load(None).unwrap();
    assert_eq!(s.mode, Mode::Embedded);
    assert_eq!(s.server.port, 8080);
    assert_eq!(s.conventions_for("NSE").unwrap(), Conventions::DEFAULT);
    assert_eq!(
        s.conventions_with("NSE", Some("nse-published")).unwrap(),
        Conventions::NSE_PUBLISHED
    );
    assert!(s.conventions_with("NSE", Some("nope")).is_err());
    // Cboe: the default preset with the USD rate of [markets.CBOE], kept when the run names the
    // configured preset again; a different preset is taken whole.
    let usd = Conventions {
        rate: 0.04,
        ..Conventions::DEFAULT
    };
    assert_eq!(s.conventions_for("CBOE").unwrap(), usd);
    assert_eq!(s.conventions_with("CBOE", Some("default")).unwrap(), usd);
    assert_eq!(
        s.conventions_with("CBOE", Some("nse-published")).unwrap(),
        Conventions::NSE_PUBLISHED
    );
}

#[test]
fn printed_settings_hide_passwords() {
    assert_eq!(
        mask_password("postgres://app:hunter2@db:5432/x"),
        "postgres://app:***@db:5432/x"
    );
    assert_eq!(
        mask_password("sqlite://./data/signal.db?mode=rwc"),
        "sqlite://./data/signal.db?mode=rwc"
    );
    assert_eq!(mask_password("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
}

#[test]
fn a_config_file_overrides_and_unknown_keys_are_refused() {
    let dir = std::env::temp_dir().join(format!("signal-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("prod.toml");
    std::fs::write(
        &f,
        "mode = \"production\"\n[markets.NSE]\nrate = 0.07\ntime_basis = \"calendar_days\"\n",
    )
    .unwrap();
    let s = Settings::load(Some(&f)).unwrap();
    assert_eq!(s.mode, Mode::Production);
    let c = s.conventions_for("NSE").unwrap();
    assert_eq!(
        (c.rate, c.time_basis, c.model),
        (0.07, TimeBasis::CalendarDays, PricingModel::Black76)
    );
    std::fs::write(&f, "[server]\nprot = 1\n").unwrap();
    assert!(Settings::load(Some(&f)).unwrap_err().contains("prot"));
    std::fs::write(&f, "[markets.NSE]\nrate = 5\n").unwrap();
    assert!(Settings::load(Some(&f)).unwrap_err().contains("rate"));
    assert!(
        Settings::load(Some(&dir.join("missing.toml")))
            .unwrap_err()
            .contains("no such file")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn markets_are_data_and_unknown_sources_or_markets_are_named() {
    let dir = std::env::temp_dir().join(format!("signal-markets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("m.toml");
    let cal = dir.join("xnas.csv");
    std::fs::write(&cal, "holiday,2026-12-25,,NYSE holiday list 2026,Christmas\n").unwrap();
    let write = |body: &str| std::fs::write(&f, body).unwrap();

    write("[instruments]\nsource = \"htp\"\n");
    let err = Settings::load(Some(&f)).unwrap_err();
    assert!(err.contains("instruments.source") && err.contains("htp"), "{err}");
    assert!(err.contains("use one of: builtin, file, http"), "{err}");
    write("mode = \"prod\"\n");
    let err = Settings::load(Some(&f)).unwrap_err();
    assert!(
        err.contains("'prod' is not a valid mode (use one of: embedded, production)") && err.contains("`mode`"),
        "{err}"
    );
    write("[log]\nformat = \"xml\"\n");
    let err = Settings::load(Some(&f)).unwrap_err();
    assert!(
        err.contains("use one of: auto, json, text") && err.contains("log.format"),
        "{err}"
    );
    write("mode = \"Production\"\n");
    assert_eq!(
        Settings::load(Some(&f)).unwrap().mode,
        Mode::Production,
        "case-insensitive"
    );

    write("[markets.XNAS]\nrate = 0.04\n");
    let err = Settings::load(Some(&f)).unwrap_err();
    assert!(err.contains("markets.XNAS.time_zone is required"), "{err}");

    write(&format!(
        "[markets.XNAS]\ntime_zone = \"America/New_York\"\nsessions = \"09:30-16:00\"\ncalendar = \"{}\"\nrate = 0.04\nmodel = \"bsm\"\n",
        cal.display()
    ));
    let markets = Settings::load(Some(&f)).unwrap().markets_with(None).unwrap();
    assert_eq!(markets.codes(), ["CBOE", "NSE", "XNAS"]);
    // Both shipped markets, each with its own rate: the preset's for NSE, base.toml's USD rate
    // for Cboe (this file sets neither).
    assert_eq!(markets.get("NSE").unwrap().conventions.rate, 0.065);
    assert_eq!(markets.get("CBOE").unwrap().conventions.rate, 0.04);
    assert_eq!(markets.get("CBOE").unwrap().market.tz(), chrono_tz::America::New_York);
    let xnas = markets.get("XNAS").unwrap();
    assert_eq!(xnas.conventions.rate, 0.04);
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let day = xnas.market.session_on(d("2026-12-24")).unwrap();
    assert_eq!(day.open.to_rfc3339(), "2026-12-24T14:30:00+00:00");
    assert!(xnas.market.session_on(d("2026-12-25")).is_none(), "its own calendar");
    assert!(markets.get("NSE").unwrap().market.session_on(d("2026-12-24")).is_some());

    write("[markets.NSE]\ntime_zone = \"UTC\"\n");
    let err = Settings::load(Some(&f)).unwrap_err();
    assert!(
        err.contains("markets.NSE.time_zone") && err.contains("shipped"),
        "{err}"
    );

    write("[markets.XNAS]\ntime_zone = \"Mars/Olympus\"\nsessions = \"09:30-16:00\"\ncalendar = \"x\"\n");
    let err = Settings::load(Some(&f)).unwrap_err();
    assert!(err.contains("markets.XNAS.time_zone"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
