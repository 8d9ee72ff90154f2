"""From command-line choices to a ready client: config, profile, key and, with --demo, the simulator.

Both front ends (the CLI and the app) open their session here, so they resolve everything alike.
pydantic (the config) loads with the first ``open_session``, not with this module: the app draws its
first frame from ``startup.FirstFrame`` before that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from holysheep_tui.errors import KeyMissingError
from holysheep_tui.relay.rate_limit import RateLimiters

if TYPE_CHECKING:
    from holysheep_tui.config import Config, Profile
    from holysheep_tui.relay.client import RelayClient
    from holysheep_tui.simulator import RelaySimulator

DEMO_PROFILE = "demo"


@dataclass
class Session:
    config: Config
    profile_name: str
    profile: Profile
    api_key: str | None = field(repr=False)
    key_source: str | None
    simulator: RelaySimulator | None = None
    limiters: RateLimiters = field(default_factory=RateLimiters)
    """One client-side rate limiter per profile, shared by every client this session makes."""
    demo: bool = False
    """Served by the built-in simulator, started by the first ``client()`` if not yet running."""

    @property
    def is_demo(self) -> bool:
        return self.demo or self.simulator is not None

    def client(self, profile: Profile | None = None) -> RelayClient:
        from holysheep_tui.relay.client import RelayClient  # httpx loads with the first client

        if self.demo and self.simulator is None:
            from holysheep_tui.simulator import RelaySimulator

            self.simulator = RelaySimulator().start()
            self.profile = self.profile.model_copy(update={"base_url": self.simulator.base_url})
        profile = profile or self.profile
        limiter = self.limiters.get(self.profile_name, profile.rate_limit_rpm)
        return RelayClient(profile, self.api_key, key_source=self.key_source, limiter=limiter)

    def close(self) -> None:
        self.demo = False  # a closed session starts no simulator
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None


def is_loopback_url(url: str) -> bool:
    from holysheep_tui.config import is_loopback_host

    return is_loopback_host(urlsplit(url).hostname or "")


def open_session(
    *,
    profile: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    demo: bool = False,
    require_key: bool = True,
    config: Config | None = None,
    lazy_demo: bool = False,
) -> Session:
    """Resolve config, profile and key. A missing key is an error only for a remote endpoint.

    ``lazy_demo``: the simulator starts with the first ``client()`` (the profile's URL is known then)."""
    from holysheep_tui.config import Profile, load_config, resolve_profile

    config = config or load_config()
    if demo and lazy_demo:  # the simulator's own address replaces this one when it starts
        demo_profile = Profile(base_url="http://127.0.0.1/v1", model=model or "kimi-k2")
        return Session(config, DEMO_PROFILE, demo_profile, None, None, demo=True)
    if demo:
        from holysheep_tui.simulator import RelaySimulator

        simulator = RelaySimulator().start()
        demo_profile = Profile(base_url=simulator.base_url, model=model or "kimi-k2")
        return Session(config, DEMO_PROFILE, demo_profile, None, None, simulator)
    name, chosen = resolve_profile(config, profile=profile, base_url=base_url, model=model)
    from holysheep_tui.secrets import KeyCommandError, resolve_key

    try:
        resolved = resolve_key(name, chosen)
    except KeyCommandError:
        raise  # a configured api_key_cmd that fails is reported, for a loopback endpoint too
    except KeyMissingError:
        if is_loopback_url(chosen.base_url) or not require_key:
            return Session(config, name, chosen, None, None)
        raise
    return Session(config, name, chosen, resolved.value.get_secret_value(), resolved.source)
