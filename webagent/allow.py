"""Only the sites you allow: which URLs the browser may load.

By default the agent may go to any http(s) site and nowhere else: `file://`
(which would put local files into the store and the prompts), `chrome://`,
`view-source:` and the like are refused unless `allow_files` is set. With
`--allow-domain` (repeatable) only those hosts and their subdomains are
reachable: the session routes every request of the page through `check`
(Playwright routing), aborts the others, and the agent is told which URL was
blocked in the step's error and so in its next observation.

`about:`, `data:` and `blob:` URLs stay allowed: they are made by the page
itself and reach no other site.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from webagent.errors import DataError

WEB_SCHEMES = ("http", "https")
LOCAL_SCHEMES = ("about", "data", "blob")


def normalise_domain(domain: str) -> str:
    """`example.com`, `*.example.com` or a URL, as the bare lower-case host."""
    text = domain.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.removeprefix("*.").strip(".")
    if not text or any(c in text for c in "/ ?#@"):
        raise DataError(f"--allow-domain {domain!r} is not a domain (e.g. example.com)")
    return text


@dataclass(frozen=True)
class SitePolicy:
    domains: tuple[str, ...] = ()  # hosts (and their subdomains) the browser may reach; () any
    allow_files: bool = False  # file:// URLs

    def __post_init__(self) -> None:
        object.__setattr__(self, "domains", tuple(dict.fromkeys(normalise_domain(d) for d in self.domains)))

    @property
    def routes(self) -> bool:
        """Whether every request must be checked (a domain list), not only where the agent goes."""
        return bool(self.domains)

    def check(self, url: str) -> str | None:
        """None when `url` may be loaded, else why not (one line)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in LOCAL_SCHEMES:
            return None
        if scheme == "file":
            return None if self.allow_files else "file:// URLs are not allowed (--allow-files allows them)"
        if scheme not in WEB_SCHEMES:
            return f"{scheme or 'a URL without a scheme'}: only http(s) URLs are allowed"
        host = (parts.hostname or "").lower()
        if self.domains and not any(host == d or host.endswith("." + d) for d in self.domains):
            return f"{host} is not an allowed domain ({', '.join(self.domains)})"
        return None

    def require(self, url: str) -> None:
        """A DataError when the agent is sent somewhere it may not go (checked before anything loads)."""
        reason = self.check(url)
        if reason:
            raise DataError(f"{url}: {reason}")
