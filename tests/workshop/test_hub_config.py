"""The hub configuration a workshop's settings produce (pure logic: no hub is started)."""
from __future__ import annotations

from traitlets.config import Config

from workshop.hub import ForkingSpawner, WorkshopAuthenticator, configure
from workshop.settings import WorkshopSettings


def configured(tmp_path, monkeypatch, **changes) -> Config:
    monkeypatch.setenv("MAILLAB_WORKSHOP_DIR", str(tmp_path))
    (tmp_path / "admin_token").write_text("a" * 64)
    c = Config()
    configure(c, WorkshopSettings(port=8123, hub_port=1, proxy_api_port=2, dashboard_port=3, password="p" * 8,
                                  instructors=["ada"], instructor_password="i" * 32, **changes))
    return c


def services(c: Config) -> dict:
    return {s["name"]: s for s in c.JupyterHub.services}


def test_spawns_are_throttled_and_patient(tmp_path, monkeypatch):
    c = configured(tmp_path, monkeypatch, seats=25, concurrent_spawns=8)
    assert c.JupyterHub.concurrent_spawn_limit == 8
    assert c.JupyterHub.active_server_limit == 25
    assert c.Spawner.http_timeout == 120  # the default 30 s fails most of a burst on 2 cores
    # servers are forked from workshop.forkserver; the command is what runs if it cannot be reached
    assert c.JupyterHub.spawner_class is ForkingSpawner
    assert c.Spawner.cmd[0].endswith("jupyterhub-singleuser")
    assert c.JupyterHub.authenticator_class is WorkshopAuthenticator
    assert c.LocalAuthenticator.create_system_users is True
    assert c.Authenticator.admin_users == {"ada"}


def test_the_idle_culler_follows_the_workshops_limits(tmp_path, monkeypatch):
    c = configured(tmp_path, monkeypatch, idle_timeout=900, max_age=7200)
    culler = services(c)["idle-culler"]["command"]
    assert "--timeout=900" in culler and "--max-age=7200" in culler
    role = next(r for r in c.JupyterHub.load_roles if r["name"] == "maillab-idle-culler")
    assert "delete:servers" in role["scopes"]
    c = configured(tmp_path, monkeypatch, idle_timeout=0, max_age=0)
    assert "idle-culler" not in services(c)


def test_grader_and_dashboard_are_hub_services(tmp_path, monkeypatch):
    found = services(configured(tmp_path, monkeypatch))
    assert found["grader"]["command"][-2:] == ["-m", "workshop.service"]
    assert found["dashboard"]["url"] == "http://127.0.0.1:3"
    assert found["grader"]["environment"]["MAILLAB_WORKSHOP_DIR"] == str(tmp_path)
    assert found["maillab-admin"]["api_token"] == "a" * 64


def test_a_chinese_workshop_opens_the_chinese_notebook(tmp_path, monkeypatch):
    assert configured(tmp_path, monkeypatch, lab="dns-mx").Spawner.default_url == "/lab/tree/07-dns-mx.ipynb"
    c = configured(tmp_path, monkeypatch, lab="dns-mx", lang="zh")
    assert c.Spawner.default_url == "/lab/tree/07-dns-mx.zh.ipynb"


def test_a_learners_workspace_holds_both_editions(tmp_path):
    from workshop.learner_home import main

    assert main([str(tmp_path / "maillab")]) == 0
    names = {p.name for p in (tmp_path / "maillab").iterdir()}
    assert {"02-install-postfix.ipynb", "02-install-postfix.zh.ipynb"} <= names


def test_internal_ports_are_distinct_and_never_from_the_ephemeral_range():
    """Outgoing connections take ephemeral ports at any moment: the hub's own ports come from below them."""
    from workshop.settings import _ephemeral_low, free_ports

    low = _ephemeral_low()
    for _ in range(50):
        ports = free_ports(3, avoid=(8123,))
        assert len(set(ports)) == 3 and 8123 not in ports
        assert all(10000 <= port < low for port in ports)
