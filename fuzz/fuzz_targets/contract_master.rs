//! Contract-master files (`instruments.contract_master`, `instruments --contract-master`): never
//! a panic; a file that loads lists no more contracts than it has rows.
#![no_main]
use adapters::outbound::instruments::contract_master;
use domain::instrument::Market;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = contract_master::read(data, &Market::nse()) {
        assert!(c.len() <= data.iter().filter(|b| **b == b'\n').count() + 1);
    }
});
