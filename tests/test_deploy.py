"""The deployment files (deploy/): valid against the Compose specification and the
Kubernetes API schemas (no container engine runs here), and saying what the app reads: the
environment they set is the environment the settings parse, with the layout docs/scaling.md
explains."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from assistant.config import Settings
from assistant.server.settings import ServerSettings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
BIN = Path(sys.executable).parent


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _k8s() -> list[dict]:
    return [doc for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(f.read_text()) if doc]


def _check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)], capture_output=True, text=True)


def test_the_compose_file_follows_the_compose_specification(tmp_path):
    assert _check_compose(DEPLOY / "compose.yaml").returncode == 0
    broken = _compose()
    broken["services"]["app"]["replica"] = 2  # a misspelt key: not in the specification
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    assert _check_compose(tmp_path / "broken.yaml").returncode != 0, "the check catches a wrong file"


def test_the_compose_cluster_is_three_replicated_nodes_two_apps_and_a_websocket_proxy():
    services = _compose()["services"]
    nodes = [s for name, s in services.items() if name.startswith("qdrant-")]
    assert len(nodes) == 3 and all(n["environment"]["QDRANT__CLUSTER__ENABLED"] == "true" for n in nodes)
    assert sum("--bootstrap" in n["command"] for n in nodes) == 2, "two nodes join the first"
    app = services["app"]
    assert app["deploy"]["replicas"] == 2
    env = {k: str(v).replace("${POSTGRES_PASSWORD}", "pw").replace("${QDRANT_API_KEY}", "k") for k, v in app["environment"].items()}
    env = {k: v for k, v in env.items() if "${" not in v}
    settings = Settings.from_env(env)
    assert settings.sessions and settings.sessions.startswith("postgresql://") and "@postgres:5432/" in settings.sessions
    assert (settings.index.cluster.shard_number, settings.index.cluster.replication_factor) == (6, 2)
    proxy_ip = services["proxy"]["networks"]["shop"]["ipv4_address"]
    assert app["command"][app["command"].index("--trusted-proxy") + 1] == proxy_ip, "X-Forwarded-For believed from the proxy only"
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade" in nginx and "proxy_read_timeout 3600s" in nginx


def test_the_kubernetes_manifests_follow_the_api_schemas():
    docs = _k8s()
    for doc in docs:
        kubernetes_validate.validate(doc, "1.37.0", strict=True)
    broken = next(d for d in docs if d["kind"] == "Deployment")
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37.0", strict=True)


def test_the_kubernetes_app_reads_the_settings_it_is_given():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _k8s()}
    config = docs[("ConfigMap", "shop-assistant")]["data"]
    secret = docs[("Secret", "shop-assistant")]["stringData"]
    settings = Settings.from_env({**config, "SHOP_ASSISTANT_SESSIONS": secret["sessions-url"]})
    assert settings.index.qdrant_url == "http://qdrant:6333" and settings.sessions.startswith("postgresql://")
    assert settings.index.cluster.model_dump() == {"shard_number": 6, "replication_factor": 2, "write_consistency_factor": 1}
    server = ServerSettings.from_env({**config, "SHOP_ASSISTANT_API_KEYS": secret["api-keys"], "SHOP_ASSISTANT_HOST": "0.0.0.0"})
    assert server.trusted_proxies == ["10.0.0.0/8"] and server.api_keys
    qdrant = docs[("StatefulSet", "qdrant")]["spec"]
    assert qdrant["replicas"] == 3 and docs[("Deployment", "shop-assistant")]["spec"]["replicas"] == 2
    # The app drains for up to 20 s on SIGTERM: Kubernetes must wait longer before killing it.
    assert docs[("Deployment", "shop-assistant")]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 20
