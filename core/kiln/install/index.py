"""The package-index client: list a project's files, fetch core metadata, download wheels.

An index is a PEP 691 (JSON) or PEP 503 (HTML) simple API over http(s), or a folder
given as a ``file://`` URL: a PEP 503 folder (``DIR/<project>/index.html``) or a flat
folder of wheels and sdists. Downloads land in a content-addressed :class:`WheelCache`
and are checked against the hash from the lock file or the index.

httpx and rich load only when a :class:`Session` first goes to the network, so importing
this module stays cheap.
"""

from __future__ import annotations

import contextlib
import email.message
import email.parser
import email.utils
import hashlib
import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urldefrag, urljoin, urlparse
from urllib.request import url2pathname

from packaging.tags import Tag, sys_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from kiln.install.errors import InstallError, hash_mismatch

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_WAIT = 30.0  # seconds: the most kiln waits between two tries, whatever Retry-After says
CHUNK = 256 * 1024
WHERE_INDEX_IS_SET = "kiln init -index-url, KILN_INDEX_URL or the config file"


class NotFound(InstallError):
    """The server answered 404 (or the local file is missing)."""


class ProjectNotFound(NotFound):
    """The index has no such project."""


# --- files an index lists ---------------------------------------------------------------


def _parse_filename(filename: str) -> tuple[NormalizedName, Version, frozenset[Tag]] | None:
    """Name, version and tags of a wheel or sdist file name; None when it is neither."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return name, version, tags
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return name, version, frozenset()
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        pass
    return None


@dataclass(frozen=True)
class IndexFile:
    """One file of a project, as an index lists it."""

    filename: str
    url: str  # absolute: http(s)://... or file://...
    index: str  # the index URL (as configured) that listed it
    sha256: str | None
    requires_python: str | None
    yanked: bool
    metadata_url: str | None  # PEP 658/714 core-metadata file, when the index has one
    metadata_sha256: str | None = None  # that file's hash, when the index gives it

    @cached_property
    def _parsed(self) -> tuple[NormalizedName, Version, frozenset[Tag]]:
        parsed = _parse_filename(self.filename)
        if parsed is None:
            raise ValueError(f"not a wheel or sdist file name: {self.filename}")
        return parsed

    @property
    def project(self) -> NormalizedName:
        return self._parsed[0]

    @property
    def version(self) -> Version:
        return self._parsed[1]

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def tags(self) -> frozenset[Tag]:
        return self._parsed[2]


def best_wheel(files: Sequence[IndexFile], tags: Sequence[Tag] | None = None) -> IndexFile | None:
    """The wheel (of one version's files) whose best tag ranks first in ``tags``.

    ``tags`` defaults to this interpreter's :func:`packaging.tags.sys_tags`, most
    specific first. None when no wheel fits.
    """
    rank = {tag: i for i, tag in enumerate(tags if tags is not None else sys_tags())}
    best: tuple[int, str, IndexFile] | None = None
    for file in files:
        if not file.is_wheel:
            continue
        ranks = [rank[tag] for tag in file.tags if tag in rank]
        if ranks and (best is None or (min(ranks), file.filename) < best[:2]):
            best = (min(ranks), file.filename, file)
    return best[2] if best else None


# --- reading simple-API pages -----------------------------------------------------------


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # HTMLParser has already html-unescaped the attribute values.
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            found = dict(attrs)
            if found.get("href"):
                self.links.append(found)


def _metadata_hash(value: str | None) -> str | None:
    """The sha256 out of ``sha256=HEX`` (PEP 658 attribute value); None for ``true``."""
    if value and value.startswith("sha256="):
        return value.partition("=")[2].lower()
    return None


def _html_files(text: str, page_url: str, index: str) -> Iterator[IndexFile]:
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    for attrs in parser.links:
        url, fragment = urldefrag(urljoin(base, attrs["href"] or ""))
        sha256 = fragment.partition("=")[2].lower() if fragment.startswith("sha256=") else None
        filename = unquote(urlparse(url).path.rsplit("/", 1)[-1])
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        has_metadata = (
            "data-core-metadata" in attrs or "data-dist-info-metadata" in attrs
        ) and metadata != "false"
        yield IndexFile(
            filename=filename,
            url=url,
            index=index,
            sha256=sha256,
            requires_python=attrs.get("data-requires-python") or None,
            yanked="data-yanked" in attrs,
            metadata_url=url + ".metadata" if has_metadata else None,
            metadata_sha256=_metadata_hash(metadata) if has_metadata else None,
        )


def _json_files(text: str, page_url: str, index: str) -> Iterator[IndexFile]:
    try:
        data = json.loads(text)
        version = str(data.get("meta", {}).get("api-version", "1.0"))
        entries = data["files"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InstallError(
            f"The index page {page_url} is not valid PEP 691 JSON. "
            f"Check the index URL ({WHERE_INDEX_IS_SET})."
        ) from None
    if version.split(".")[0] != "1":
        raise InstallError(
            f"The index page {page_url} speaks simple-API version {version}; "
            "kiln understands version 1. Use an index that serves version 1."
        )
    for entry in entries:
        if not isinstance(entry, dict) or "filename" not in entry or "url" not in entry:
            continue
        url = urldefrag(urljoin(page_url, entry["url"]))[0]
        hashes = entry.get("hashes") or {}
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        yanked = entry.get("yanked", False)
        meta_hashes = metadata if isinstance(metadata, dict) else {}
        yield IndexFile(
            filename=entry["filename"],
            url=url,
            index=index,
            sha256=(hashes.get("sha256") or "").lower() or None,
            requires_python=entry.get("requires-python") or None,
            yanked=yanked is True or isinstance(yanked, str),
            metadata_url=url + ".metadata" if metadata else None,
            metadata_sha256=(meta_hashes.get("sha256") or "").lower() or None,
        )


def _file_url_path(url: str) -> Path:
    return Path(url2pathname(urlparse(url).path))


class Index:
    """One package index, as configured: an http(s) simple API or a ``file://`` folder."""

    def __init__(self, url: str, session: Session) -> None:
        self.url = url
        self.session = session

    def __repr__(self) -> str:
        return f"Index({self.url!r})"

    def project_files(self, project: str) -> list[IndexFile]:
        """Every wheel and sdist of ``project`` the index lists (unparsable names skipped)."""
        name = canonicalize_name(project)
        if self.url.startswith("file:"):
            files = self._folder_files(name)
        else:
            page = self.url.rstrip("/") + f"/{name}/"
            try:
                text, final_url, content_type = self.session.get_text(page, accept=ACCEPT)
            except NotFound:
                raise self._not_found(name, page) from None
            if content_type == JSON_TYPE:
                files = list(_json_files(text, final_url, self.url))
            elif "html" in content_type or not content_type:
                files = list(_html_files(text, final_url, self.url))
            else:
                raise InstallError(
                    f"The index answered {page} with {content_type}, not a simple-API page. "
                    f"Check the index URL ({WHERE_INDEX_IS_SET}); it usually ends in /simple/."
                )
        return [f for f in files if (p := _parse_filename(f.filename)) and p[0] == name]

    def _not_found(self, name: str, where: str) -> ProjectNotFound:
        return ProjectNotFound(
            f"The index {self.url} has no project {name} (nothing at {where}). "
            "Check the plugin's source address, and that this index serves it "
            f"({WHERE_INDEX_IS_SET})."
        )

    def _folder_files(self, name: NormalizedName) -> list[IndexFile]:
        folder = _file_url_path(self.url)
        if not folder.is_dir():
            raise InstallError(
                f"The index folder {folder} (from {self.url}) does not exist. "
                f"Check the index URL ({WHERE_INDEX_IS_SET})."
            )
        others = [d for d in folder.iterdir() if d.is_dir() and canonicalize_name(d.name) == name]
        for project_dir in [folder / name, *sorted(others)]:
            page = project_dir / "index.html"
            if page.is_file():
                text = page.read_text(encoding="utf-8", errors="replace")
                return list(_html_files(text, page.resolve().as_uri(), self.url))
        files = [
            IndexFile(
                filename=path.name,
                url=path.resolve().as_uri(),
                index=self.url,
                sha256=None,
                requires_python=None,
                yanked=False,
                metadata_url=None,
            )
            for path in sorted(folder.iterdir())
            if path.is_file() and (p := _parse_filename(path.name)) and p[0] == name
        ]
        if not files:
            raise self._not_found(name, str(folder))
        return files


# --- the download cache -----------------------------------------------------------------


def sha256_of(path: Path | str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class WheelCache:
    """Downloaded files by content: ``root/ab/abcdef.../FILENAME``.

    A file gets there only through :meth:`add` after its hash was computed, so a lookup
    trusts it. Writes go to a temporary file in ``root`` and are renamed into place
    (:func:`os.replace`), so concurrent kiln processes never see a partial file.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str, filename: str) -> Path:
        sha256 = sha256.lower()
        return self.root / sha256[:2] / sha256 / filename

    def lookup(self, sha256: str, filename: str) -> Path | None:
        path = self.path(sha256, filename)
        return path if path.is_file() else None

    @contextlib.contextmanager
    def incoming(self) -> Iterator[tuple[IO[bytes], Path]]:
        """A temporary file in the cache (removed unless :meth:`add` moved it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out, temp
        finally:
            temp.unlink(missing_ok=True)

    def add(self, temp: Path, sha256: str, filename: str) -> Path:
        """Move ``temp`` (whose content hashes to ``sha256``) into place."""
        target = self.path(sha256, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        return target


# --- the HTTP session -------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _tls_problem(exc: BaseException) -> BaseException | None:
    import ssl

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _Retry(Exception):
    """One try failed in a way worth another: the error to raise if it was the last."""

    def __init__(self, error: InstallError, wait: float | None = None) -> None:
        self.error = error
        self.wait = wait


class Session:
    """An httpx client shared by every index of one kiln run, with retries and clear errors."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        progress: bool | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._client: httpx.Client | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            from kiln import __version__

            # trust_env: HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE and SSL_CERT_DIR apply.
            self._client = httpx.Client(
                timeout=self.timeout,
                follow_redirects=True,
                trust_env=True,
                headers={"User-Agent": f"kiln/{__version__}"},
            )
        return self._client

    # -- requests with retries --

    def _send(self, url: str, accept: str | None, handle: Callable[[httpx.Response], T]) -> T:
        """GET ``url`` and give the streamed response to ``handle``, retrying transient
        failures (``handle`` may be called again; it must start afresh each time)."""
        import httpx

        headers = {"Accept": accept} if accept else {}
        tries = self.retries + 1
        for attempt in range(tries):
            try:
                try:
                    with self.client.stream("GET", url, headers=headers) as response:
                        self._check_status(url, response, tries)
                        return handle(response)
                except httpx.HTTPError as exc:
                    raise self._transport_error(url, exc, tries) from None
            except _Retry as retry:
                if attempt == tries - 1:
                    raise retry.error from None
                wait = retry.wait if retry.wait is not None else self.backoff * 2**attempt
                time.sleep(min(wait, MAX_WAIT))
        raise AssertionError("unreachable")

    def _check_status(self, url: str, response: httpx.Response, tries: int) -> None:
        status = response.status_code
        if status < 400:
            return
        what = f"HTTP {status} {response.reason_phrase}".strip()
        if status == 404:
            raise NotFound(f"{url} does not exist on the package index ({what}).")
        if status in (401, 403):
            raise InstallError(
                f"The package index refused {url} ({what}): it needs credentials, or the "
                "ones given may not read it. Put them in the index URL "
                f"(https://USER:TOKEN@host/simple/) set with {WHERE_INDEX_IS_SET}."
            )
        if status == 429:
            error = InstallError(
                f"The package index rate-limited kiln (HTTP 429) at {url}, {tries} tries. "
                "Try again later, or set KILN_INDEX_URL to a mirror."
            )
        elif status in RETRY_STATUSES:
            error = InstallError(
                f"The package index answered {what} for {url}, {tries} tries. The index "
                "has a problem of its own: try again later, or set KILN_INDEX_URL to a mirror."
            )
        else:
            raise InstallError(
                f"The package index answered {what} for {url}. "
                f"Check the index URL ({WHERE_INDEX_IS_SET})."
            )
        wait = None
        if status in (429, 503):
            wait = _retry_after(response.headers.get("Retry-After"))
        raise _Retry(error, wait)

    def _transport_error(self, url: str, exc: Exception, tries: int) -> Exception:
        """An httpx failure as an InstallError, wrapped in _Retry when worth another try."""
        import httpx

        detail = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return _Retry(
                InstallError(
                    f"The package index at {url} did not answer within {self.timeout:g} s "
                    f"({tries} tries). Check the network and the proxy settings "
                    "(HTTPS_PROXY, NO_PROXY), or try again later."
                )
            )
        tls = _tls_problem(exc)
        if tls is not None:
            return InstallError(
                f"TLS/certificate problem talking to {url}: {tls}. If the index uses a "
                "private certificate authority, point SSL_CERT_FILE at its CA bundle; "
                "check HTTPS_PROXY too."
            )
        if isinstance(exc, httpx.ConnectError):
            return _Retry(
                InstallError(
                    f"Cannot reach the package index at {url} ({detail}). Check the URL "
                    f"({WHERE_INDEX_IS_SET}) or the network."
                )
            )
        if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
            return _Retry(
                InstallError(
                    f"The connection to the package index at {url} broke ({detail}), "
                    f"{tries} tries. Check the network and the proxy, or try again later."
                )
            )
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return InstallError(
                f"{url} is not a URL kiln can fetch ({detail}). Index URLs start with "
                f"https://, http:// or file:// ({WHERE_INDEX_IS_SET})."
            )
        return InstallError(
            f"Fetching {url} failed: {detail}. Check the index URL and the network."
        )

    # -- what the indexes and the installer use --

    def get_text(self, url: str, accept: str | None = None) -> tuple[str, str, str]:
        """The page at ``url``: its text, its URL after redirects, its media type."""

        def read(response: httpx.Response) -> tuple[str, str, str]:
            response.read()
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return response.text, str(response.url), media

        return self._send(url, accept, read)

    def get_bytes(self, url: str) -> bytes:
        """The content at ``url`` (http(s) or file)."""
        if url.startswith("file:"):
            path = _file_url_path(url)
            try:
                return path.read_bytes()
            except FileNotFoundError:
                raise NotFound(f"{path} does not exist.") from None
            except OSError as exc:
                raise InstallError(f"Cannot read {path}: {exc.strerror}.") from None
        return self._send(url, None, lambda response: response.read())

    def metadata(self, file: IndexFile, cache: WheelCache) -> email.message.Message:
        """The core metadata (METADATA) of a wheel: the PEP 658 file when the index has
        one, else out of the wheel itself (downloaded, verified and cached)."""
        if file.metadata_url:
            try:
                data = self.get_bytes(file.metadata_url)
            except NotFound:
                data = None  # advertised but missing: the wheel has it too
            if data is not None:
                if file.metadata_sha256:
                    actual = hashlib.sha256(data).hexdigest()
                    if actual != file.metadata_sha256:
                        raise InstallError(
                            f"The metadata file {file.metadata_url} does not match the hash "
                            f"the index gives: expected sha256 {file.metadata_sha256}, got "
                            f"{actual}. The index may be broken or tampered with; nothing "
                            "was installed."
                        )
                return email.parser.BytesParser().parsebytes(data)
        if not file.is_wheel:
            raise InstallError(
                f"{file.filename} (from {file.index}) is a source distribution; "
                "kiln installs plugins from wheels only."
            )
        path = self.download(file, cache, None)
        return wheel_metadata(path, f" (from {file.url})")

    def download(self, file: IndexFile, cache: WheelCache, sha256: str | None) -> Path:
        """The file in the cache, downloaded unless the cache holds it already.

        Checked against ``sha256`` (from the lock file), else the index's hash; with
        neither, the file is accepted and its computed hash is ``path.parent.name``.
        """
        expected = (sha256 or file.sha256 or "").lower() or None
        source = "the lock file" if sha256 else "the index"
        if expected and (cached := cache.lookup(expected, file.filename)):
            return cached

        def save(chunks: Iterator[bytes], total: int | None) -> Path:
            digest = hashlib.sha256()
            with cache.incoming() as (out, temp), self._bar(file.filename, total) as advance:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    advance(len(chunk))
                out.close()
                actual = digest.hexdigest()
                if expected and actual != expected:
                    raise hash_mismatch(
                        f"{file.filename} from {file.url}", actual, expected, source
                    )
                return cache.add(temp, actual, file.filename)

        if file.url.startswith("file:"):
            path = _file_url_path(file.url)
            try:
                with path.open("rb") as f:
                    return save(iter(lambda: f.read(CHUNK), b""), path.stat().st_size)
            except FileNotFoundError:
                raise InstallError(
                    f"{path} (listed by {file.index}) does not exist. Check the index folder."
                ) from None

        def stream(response: httpx.Response) -> Path:
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            return save(response.iter_bytes(CHUNK), total)

        return self._send(file.url, None, stream)

    @contextlib.contextmanager
    def _bar(self, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if not self.progress:
            yield lambda amount: None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        bar = Progress(
            TextColumn(f"  {label}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        task = bar.add_task(label, total=total)
        with bar:
            yield lambda amount: bar.advance(task, amount)


def wheel_metadata(path: Path, origin: str = "") -> email.message.Message:
    """``*.dist-info/METADATA`` out of the wheel at ``path`` (the project's own, if it
    holds several); ``origin`` (" (from URL)") goes into error messages."""
    try:
        project = canonicalize_name(parse_wheel_filename(path.name)[0])
        with zipfile.ZipFile(path) as zf:
            found = [
                n
                for n in zf.namelist()
                if n.count("/") == 1 and n.endswith("/METADATA") and ".dist-info/" in n
            ]
            own = [n for n in found if canonicalize_name(n.split("-")[0]) == project]
            if not (own or found):
                raise InstallError(
                    f"{path.name}{origin} has no .dist-info/METADATA; it is not a valid wheel."
                )
            return email.parser.BytesParser().parsebytes(zf.read((own or found)[0]))
    except (zipfile.BadZipFile, OSError, InvalidWheelFilename) as exc:
        raise InstallError(f"{path.name}{origin} is not a valid wheel ({exc}).") from None
