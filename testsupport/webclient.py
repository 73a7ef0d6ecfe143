"""A small HTTP client that acts like a browser behind a TLS-terminating proxy, for tests that drive
a running server (gunicorn) instead of Django's test client.

The site's address is ``https://<host>/``; requests go in plain HTTP to the server's local port
with the ``Host`` and ``X-Forwarded-Proto: https`` a proxy would send, and with the ``Origin`` and
``Referer`` a browser sends, so CSRF, secure cookies, ALLOWED_HOSTS and the HTTPS redirect all
work as in production. Forms are read from the HTML and submitted with every field the page has,
as a browser would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests


@dataclass
class Form:
    action: str
    method: str
    values: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    checkboxes: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def option(self, name: str, label: str) -> str:
        """The value of the option of select ``name`` whose text contains ``label``."""
        for value, text in self.options.get(name, []):
            if label in text:
                return value
        raise KeyError(f"no option {label!r} in select {name!r}: {self.options.get(name)}")

    def data(self, fields: dict[str, str | bool], button: tuple[str, str] | None = None) -> list[tuple[str, str]]:
        values = {name: list(items) for name, items in self.values.items()}
        for name, value in fields.items():
            if value is True:
                values[name] = [self.checkboxes.get(name, "on")]
            elif value is False:
                values.pop(name, None)
            else:
                values[name] = [value]
        if button is not None:
            assert button in self.buttons, f"no button {button} in {self.buttons}"
            values[button[0]] = [button[1]]
        return [(name, item) for name, items in values.items() for item in items]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, bool] | None = None  # name, multiple
        self._select_chosen = False
        self._option: tuple[str | None, bool] | None = None  # value attribute, selected
        self._option_text: list[str] = []
        self._textarea: str | None = None
        self._textarea_text: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {key: value or "" for key, value in attrs_list}
        if tag == "form":
            self._form = Form(action=attrs.get("action", ""), method=attrs.get("method", "get").lower())
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text").lower()
            if kind in {"submit", "image", "button"}:
                form.buttons.append((name, attrs.get("value", "")))
            elif kind in {"checkbox", "radio"}:
                form.checkboxes[name] = attrs.get("value", "on")
                form.values.setdefault(name, [])
                if "checked" in attrs:
                    form.values[name].append(attrs.get("value", "on"))
            elif kind != "file":
                form.values[name] = [attrs.get("value", "")]
        elif tag == "button" and name and attrs.get("type", "submit").lower() == "submit":
            form.buttons.append((name, attrs.get("value", "")))
        elif tag == "select" and name:
            self._select = (name, "multiple" in attrs)
            self._select_chosen = False
            form.values[name] = []
            form.options[name] = []
        elif tag == "option" and self._select is not None:
            self._option = (attrs.get("value"), "selected" in attrs)
            self._option_text = []
        elif tag == "textarea" and name:
            self._textarea = name
            self._textarea_text = []

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option_text.append(data)
        if self._textarea is not None:
            self._textarea_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if tag == "form":
            self._form = None
        elif tag == "option" and self._option is not None and self._select is not None and form is not None:
            text = "".join(self._option_text).strip()
            value = self._option[0] if self._option[0] is not None else text
            form.options[self._select[0]].append((value, text))
            if self._option[1]:
                form.values[self._select[0]].append(value)
                self._select_chosen = True
            self._option = None
        elif tag == "select" and self._select is not None and form is not None:
            name, multiple = self._select
            # A single select with nothing marked submits its first option, as browsers do.
            if not multiple and not self._select_chosen and form.options[name]:
                form.values[name] = [form.options[name][0][0]]
            self._select = None
        elif tag == "textarea" and self._textarea is not None and form is not None:
            form.values[self._textarea] = ["".join(self._textarea_text).removeprefix("\n")]
            self._textarea = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


class ProxiedBrowser:
    """One visitor (its own cookies) of ``https://<host>/`` served at ``local_url``."""

    def __init__(self, *, local_url: str, host: str, timeout: float = 30.0) -> None:
        self.local_url = local_url.rstrip("/")
        self.host = host
        self.site_url = f"https://{host}"
        self.timeout = timeout
        self.session = requests.Session()
        self.last_path = "/"

    def local_path(self, url: str) -> str:
        """A site URL (absolute on our host, or a path) as a path on the server."""
        parts = urlsplit(urljoin(self.site_url + self.last_path, url))
        assert parts.scheme == "https" and parts.netloc == self.host, f"left the site: {url}"
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _headers(self) -> dict[str, str]:
        # A fresh connection per request: gunicorn drops idle keep-alive connections after 2 s,
        # and a request sent on one it just dropped would fail for no fault of the server's.
        headers = {"Host": self.host, "X-Forwarded-Proto": "https", "Connection": "close"}
        # The session's cookies (Secure ones included: the browser's side of the proxy is HTTPS),
        # sent by hand because requests would hold Secure cookies back from a plain-HTTP URL.
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.session.cookies)
        if cookies:
            headers["Cookie"] = cookies
        return headers

    def request(self, method: str, path: str, *, follow: bool = True, **kwargs: Any) -> requests.Response:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        if method != "GET":
            headers.setdefault("Origin", self.site_url)
            headers.setdefault("Referer", self.site_url + self.last_path)
        response = self.session.request(
            method,
            self.local_url + path,
            headers=headers,
            allow_redirects=False,
            timeout=self.timeout,
            **kwargs,
        )
        hops = 0
        while follow and response.is_redirect:
            hops += 1
            assert hops <= 10, "redirect loop"
            path = self.local_path(response.headers["Location"])
            response = self.session.get(
                self.local_url + path, headers=self._headers(), allow_redirects=False, timeout=self.timeout
            )
        if not response.is_redirect:
            self.last_path = path
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def form(self, path: str, *, action_contains: str | None = None) -> Form:
        """The page's POST form: the one posting back to the page itself, or the first whose
        action contains ``action_contains`` (pages also carry the language switcher's form)."""
        response = self.get(path)
        assert response.status_code == 200, f"GET {path}: {response.status_code}"
        page = self.last_path.split("?")[0]
        for form in parse_forms(response.text):
            if form.method != "post":
                continue
            target = self.local_path(form.action).split("?")[0] if form.action else page
            if (action_contains is None and target == page) or (action_contains and action_contains in target):
                return form
        forms = [(f.method, f.action) for f in parse_forms(response.text)]
        raise AssertionError(f"no POST form (action ~ {action_contains!r}) on {path}; forms: {forms}\n{response.text}")

    def submit(
        self,
        form: Form,
        fields: dict[str, str | bool],
        *,
        button: tuple[str, str] | None = None,
        follow: bool = False,
    ) -> requests.Response:
        action = self.local_path(form.action) if form.action else self.last_path
        return self.request("POST", action, data=form.data(fields, button), follow=follow)
