"""The package-index client: listings (pypiserver, PEP 691 JSON, PEP 503 HTML and folders),
verified and cached downloads, core metadata, retries and the errors users see."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.version import Version
from scripts.publish_plugins import write_simple_index

from kiln.install.errors import InstallError
from kiln.install.index import (
    Index,
    IndexFile,
    ProjectNotFound,
    Session,
    WheelCache,
    best_wheel,
    sha256_of,
)
from tests.indexserver import PypiIndex, Reply, ScriptedServer
from tests.sshd import free_port
from tests.wheels import make_sdist, make_wheel, wheel_metadata

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "text/html; charset=utf-8"


@pytest.fixture
def session() -> Iterator[Session]:
    with Session(timeout=5, retries=2, backoff=0.001, progress=False) as s:
        yield s


@pytest.fixture
def cache(tmp_path: Path) -> WheelCache:
    return WheelCache(tmp_path / "cache" / "wheels")


def cached_files(cache: WheelCache) -> list[Path]:
    return [p for p in cache.root.rglob("*") if p.is_file()] if cache.root.exists() else []


def index_file(url: str, filename: str, **fields: object) -> IndexFile:
    values: dict[str, object] = {
        "filename": filename,
        "url": url,
        "index": url,
        "sha256": None,
        "requires_python": None,
        "yanked": False,
        "metadata_url": None,
    }
    values.update(fields)
    return IndexFile(**values)  # type: ignore[arg-type]


# --- listings ---------------------------------------------------------------------------


def test_pypiserver_lists_every_wheel_and_sdist_of_a_project(
    pypi_index: PypiIndex, session: Session
) -> None:
    made = [
        make_wheel(pypi_index.packages, "listing-demo", "1.0"),
        make_wheel(pypi_index.packages, "listing-demo", "1.1"),
        make_sdist(pypi_index.packages, "listing-demo", "1.1"),
        make_wheel(pypi_index.packages, "listing-demo-other", "9.0"),
    ]
    files = Index(pypi_index.url, session).project_files("listing-demo")
    by_name = {f.filename: f for f in files}
    assert sorted(by_name) == sorted(p.name for p in made[:3])
    wheel = by_name["listing_demo-1.1-py3-none-any.whl"]
    assert wheel.url.startswith("http://127.0.0.1:")
    assert wheel.index == pypi_index.url
    assert wheel.sha256 == sha256_of(made[1])
    assert (wheel.project, wheel.version, wheel.is_wheel) == ("listing-demo", Version("1.1"), True)
    assert wheel.tags == {Tag("py3", "none", "any")}
    sdist = by_name["listing_demo-1.1.tar.gz"]
    assert not sdist.is_wheel and sdist.tags == frozenset()
    assert not wheel.yanked


def test_project_names_are_normalized_before_asking(
    pypi_index: PypiIndex, session: Session
) -> None:
    make_wheel(pypi_index.packages, "Norm.Demo", "2.0")
    files = Index(pypi_index.url, session).project_files("norm_DEMO")
    assert [f.filename for f in files] == ["norm_demo-2.0-py3-none-any.whl"]


def test_an_unknown_project_is_project_not_found(pypi_index: PypiIndex, session: Session) -> None:
    with pytest.raises(ProjectNotFound, match=r"has no project no-such-plugin"):
        Index(pypi_index.url, session).project_files("No_Such_Plugin")


def test_pep691_json_is_asked_for_first_and_read(
    scripted: ScriptedServer, session: Session
) -> None:
    page = {
        "meta": {"api-version": "1.1"},
        "name": "json-demo",
        "files": [
            {
                "filename": "json_demo-1.0-py3-none-any.whl",
                "url": "../../files/json_demo-1.0-py3-none-any.whl",
                "hashes": {"sha256": "AB" * 32},
                "requires-python": ">=3.10",
                "yanked": "broken build",
                "core-metadata": {"sha256": "cd" * 32},
            },
            {
                "filename": "json_demo-1.1-py3-none-any.whl",
                "url": "https://files.example/json_demo-1.1-py3-none-any.whl",
                "hashes": {},
                "yanked": False,
            },
            {"filename": "json_demo-setup.exe", "url": "x.exe", "hashes": {}},
        ],
    }
    scripted.route("/simple/json-demo/", Reply(200, json.dumps(page), {"Content-Type": JSON}))
    files = Index(scripted.url + "simple", session).project_files("json-demo")
    accept = scripted.requests[0][1]["Accept"]
    assert accept.startswith(JSON) and "text/html;q=" in accept
    first, second = files
    assert first.url == scripted.url + "files/json_demo-1.0-py3-none-any.whl"
    assert first.index == scripted.url + "simple"
    assert first.sha256 == "ab" * 32
    assert first.requires_python == ">=3.10"
    assert first.yanked
    assert first.metadata_url == first.url + ".metadata"
    assert first.metadata_sha256 == "cd" * 32
    assert second.url == "https://files.example/json_demo-1.1-py3-none-any.whl"
    assert (second.sha256, second.requires_python, second.yanked) == (None, None, False)
    assert second.metadata_url is None


def test_pep503_html_attributes_are_read(scripted: ScriptedServer, session: Session) -> None:
    html = """<!DOCTYPE html><html><body>
    <a href="../../files/html_demo-1.0-py3-none-any.whl#sha256=ABCD"
       data-requires-python="&gt;=3.9,&lt;4" data-yanked="">html_demo-1.0</a>
    <a href="/abs/html_demo-1.1-py3-none-any.whl#md5=00"
       data-core-metadata="sha256=EF01" data-dist-info-metadata="true">1.1</a>
    <a href="html_demo-1.2.tar.gz" data-dist-info-metadata="true">1.2</a>
    <a href="html_demo-latest.tar.gz">not a version</a>
    <a href="other_project-1.0-py3-none-any.whl">another project</a>
    <a>no href</a>
    </body></html>"""
    scripted.route("/simple/html-demo/", Reply(200, html, {"Content-Type": HTML}))
    files = Index(scripted.url + "simple/", session).project_files("html-demo")
    assert [f.filename for f in files] == [
        "html_demo-1.0-py3-none-any.whl",
        "html_demo-1.1-py3-none-any.whl",
        "html_demo-1.2.tar.gz",
    ]
    first, second, third = files
    assert first.url == scripted.url + "files/html_demo-1.0-py3-none-any.whl"
    assert (first.sha256, first.requires_python, first.yanked) == ("abcd", ">=3.9,<4", True)
    assert first.metadata_url is None
    assert second.url == scripted.url + "abs/html_demo-1.1-py3-none-any.whl"
    assert second.sha256 is None  # an md5 fragment is no sha256
    assert second.metadata_url == second.url + ".metadata"
    assert second.metadata_sha256 == "ef01"  # data-core-metadata wins (PEP 714)
    assert third.url == scripted.url + "simple/html-demo/html_demo-1.2.tar.gz"
    assert third.metadata_url is not None and third.metadata_sha256 is None


def test_a_base_tag_moves_relative_links(scripted: ScriptedServer, session: Session) -> None:
    html = '<base href="https://mirror.example/pkgs/"><a href="b_demo-1.0.tar.gz">x</a>'
    scripted.route("/simple/b-demo/", Reply(200, html, {"Content-Type": HTML}))
    [file] = Index(scripted.url + "simple/", session).project_files("b-demo")
    assert file.url == "https://mirror.example/pkgs/b_demo-1.0.tar.gz"


def test_a_page_that_is_not_a_simple_index_is_refused(
    scripted: ScriptedServer, session: Session
) -> None:
    scripted.route("/simple/x/", Reply(200, "{}", {"Content-Type": "application/json"}))
    with pytest.raises(InstallError, match=r"not a simple-API page.*ends in /simple/"):
        Index(scripted.url + "simple/", session).project_files("x")


def test_a_pep503_folder_index(tmp_path: Path, session: Session) -> None:
    built = tmp_path / "built"
    wheel = make_wheel(built, "folder-demo", "1.0", requires_python=">=3.8")
    sdist = make_sdist(built, "folder-demo", "1.0")
    simple = write_simple_index(tmp_path / "site", [wheel, sdist])
    files = Index(simple.as_uri(), session).project_files("Folder_Demo")
    by_name = {f.filename: f for f in files}
    assert set(by_name) == {wheel.name, sdist.name}
    whl = by_name[wheel.name]
    assert whl.url == (tmp_path / "site" / "files" / wheel.name).as_uri()
    assert whl.sha256 == sha256_of(wheel)
    assert whl.requires_python == ">=3.8"
    assert by_name[sdist.name].requires_python is None


def test_a_folder_index_with_unnormalized_project_folders(tmp_path: Path, session: Session) -> None:
    wheel = make_wheel(tmp_path / "wheels", "odd-name", "1.0")
    project = tmp_path / "simple" / "Odd_Name"
    project.mkdir(parents=True)
    (project / "index.html").write_text(f'<a href="{wheel.as_uri()}">{wheel.name}</a>')
    [file] = Index((tmp_path / "simple").as_uri(), session).project_files("odd-name")
    assert file.url == wheel.as_uri()


def test_a_flat_folder_of_files(tmp_path: Path, session: Session) -> None:
    wheel = make_wheel(tmp_path, "flat-demo", "1.0")
    sdist = make_sdist(tmp_path, "flat-demo", "1.1")
    make_wheel(tmp_path, "flat-demo-extra", "1.0")
    (tmp_path / "flat_demo-notes.txt").write_text("not a distribution")
    files = Index(tmp_path.as_uri(), session).project_files("flat-demo")
    assert [(f.filename, f.url, f.sha256) for f in files] == [
        (wheel.name, wheel.as_uri(), None),
        (sdist.name, sdist.as_uri(), None),
    ]
    with pytest.raises(ProjectNotFound, match=r"has no project missing"):
        Index(tmp_path.as_uri(), session).project_files("missing")


def test_a_missing_index_folder_is_named(tmp_path: Path, session: Session) -> None:
    url = (tmp_path / "nowhere").as_uri()
    with pytest.raises(InstallError, match=r"index folder .*nowhere.* does not exist"):
        Index(url, session).project_files("x")


# --- downloads and the cache ------------------------------------------------------------


def test_download_is_verified_cached_and_then_served_without_network(
    pypi_index: PypiIndex, session: Session, cache: WheelCache
) -> None:
    wheel = make_wheel(pypi_index.packages, "dl-demo", "1.0")
    [file] = Index(pypi_index.url, session).project_files("dl-demo")
    digest = sha256_of(wheel)
    path = session.download(file, cache, digest)
    assert path.read_bytes() == wheel.read_bytes()
    assert path == cache.root / digest[:2] / digest / wheel.name
    dead = dataclasses.replace(file, url=f"http://127.0.0.1:{free_port()}/gone.whl")
    with Session(retries=0, progress=False) as offline:
        assert offline.download(dead, cache, None) == path  # the index's hash finds it
        assert offline.download(dead, cache, digest) == path
    assert cache.lookup(digest, wheel.name) == path


def test_a_hash_mismatch_with_the_lock_is_refused_and_nothing_is_kept(
    pypi_index: PypiIndex, session: Session, cache: WheelCache
) -> None:
    wheel = make_wheel(pypi_index.packages, "bad-lock-demo", "1.0")
    [file] = Index(pypi_index.url, session).project_files("bad-lock-demo")
    locked = "0" * 64
    with pytest.raises(InstallError) as caught:
        session.download(file, cache, locked)
    message = str(caught.value)
    assert "the lock file" in message and locked in message and sha256_of(wheel) in message
    assert "tampered" in message and "nothing was installed" in message
    assert cached_files(cache) == []


def test_a_hash_mismatch_with_the_index_is_refused(
    scripted: ScriptedServer, session: Session, cache: WheelCache
) -> None:
    scripted.route("/f/x_demo-1.0-py3-none-any.whl", Reply(200, b"evil bytes"))
    file = index_file(scripted.url + "f/x_demo-1.0-py3-none-any.whl", "x_demo-1.0-py3-none-any.whl")
    file = dataclasses.replace(file, sha256="ab" * 32)
    with pytest.raises(InstallError, match=r"does not match the hash in the index"):
        session.download(file, cache, None)
    assert cached_files(cache) == []


def test_without_any_hash_the_download_is_kept_under_its_computed_hash(
    scripted: ScriptedServer, session: Session, cache: WheelCache
) -> None:
    url = scripted.route("/f/n_demo-1.0.tar.gz", Reply(200, b"some bytes"))
    path = session.download(index_file(url, "n_demo-1.0.tar.gz"), cache, None)
    assert path.parent.name == sha256_of(path) == hashlib.sha256(b"some bytes").hexdigest()


def test_download_from_a_folder_index_copies_into_the_cache(
    tmp_path: Path, session: Session, cache: WheelCache
) -> None:
    wheel = make_wheel(tmp_path / "flat", "local-demo", "1.0")
    [file] = Index((tmp_path / "flat").as_uri(), session).project_files("local-demo")
    path = session.download(file, cache, None)
    assert path.read_bytes() == wheel.read_bytes() and path.parent.name == sha256_of(wheel)


def test_download_draws_a_progress_bar_when_asked(
    scripted: ScriptedServer, cache: WheelCache
) -> None:
    url = scripted.route("/f/p_demo-1.0.tar.gz", Reply(200, b"x" * 100_000))
    with Session(progress=True) as s:
        path = s.download(index_file(url, "p_demo-1.0.tar.gz"), cache, None)
    assert path.stat().st_size == 100_000


# --- core metadata ----------------------------------------------------------------------


def test_metadata_from_a_pep658_file_without_the_wheel(
    scripted: ScriptedServer, session: Session, cache: WheelCache
) -> None:
    text = wheel_metadata("meta-demo", "1.0", requires=["dep>=2"], requires_python=">=3.9")
    digest = hashlib.sha256(text.encode()).hexdigest()
    html = f'<a href="meta_demo-1.0-py3-none-any.whl" data-core-metadata="sha256={digest}">x</a>'
    scripted.route("/simple/meta-demo/", Reply(200, html, {"Content-Type": HTML}))
    scripted.route("/simple/meta-demo/meta_demo-1.0-py3-none-any.whl.metadata", Reply(200, text))
    [file] = Index(scripted.url + "simple/", session).project_files("meta-demo")
    metadata = session.metadata(file, cache)
    assert metadata["Name"] == "meta-demo"
    assert metadata.get_all("Requires-Dist") == ["dep>=2"]
    assert metadata["Requires-Python"] == ">=3.9"
    assert scripted.hits("/simple/meta-demo/meta_demo-1.0-py3-none-any.whl") == 0


def test_a_pep658_file_with_a_wrong_hash_is_refused(
    scripted: ScriptedServer, session: Session, cache: WheelCache
) -> None:
    url = scripted.url + "f/m_demo-1.0-py3-none-any.whl"
    scripted.route("/f/m_demo-1.0-py3-none-any.whl.metadata", Reply(200, "Name: m-demo\n"))
    file = index_file(
        url, "m_demo-1.0-py3-none-any.whl", metadata_url=url + ".metadata", metadata_sha256="00"
    )
    with pytest.raises(InstallError, match=r"metadata file .* does not match the hash"):
        session.metadata(file, cache)


def test_metadata_falls_back_to_the_wheel(
    pypi_index: PypiIndex, session: Session, cache: WheelCache
) -> None:
    wheel = make_wheel(
        pypi_index.packages, "fallback-demo", "3.0", requires=["a", "b; os_name=='nt'"]
    )
    [file] = Index(pypi_index.url, session).project_files("fallback-demo")
    assert file.metadata_url is None  # pypiserver has no PEP 658 files
    metadata = session.metadata(file, cache)
    assert (metadata["Name"], metadata["Version"]) == ("fallback-demo", "3.0")
    assert metadata.get_all("Requires-Dist") == ["a", "b; os_name=='nt'"]
    assert cache.lookup(sha256_of(wheel), wheel.name) is not None  # kept for the install


def test_metadata_of_an_sdist_is_refused(
    tmp_path: Path, session: Session, cache: WheelCache
) -> None:
    sdist = make_sdist(tmp_path, "s-demo", "1.0")
    with pytest.raises(InstallError, match=r"source distribution.*wheels only"):
        session.metadata(index_file(sdist.as_uri(), sdist.name), cache)


# --- retries and errors -----------------------------------------------------------------


def page(scripted: ScriptedServer, session: Session, *replies: Reply) -> Index:
    """The index at ``scripted``, its r-demo page answering ``replies`` (2 retries)."""
    scripted.route("/simple/r-demo/", *replies)
    return Index(scripted.url + "simple/", session)


LISTING = Reply(200, '<a href="r_demo-1.0.tar.gz">r</a>', {"Content-Type": HTML})


def test_429_is_retried_after_retry_after(scripted: ScriptedServer, session: Session) -> None:
    index = page(scripted, session, Reply(429, headers={"Retry-After": "0"}), LISTING)
    assert [f.filename for f in index.project_files("r-demo")] == ["r_demo-1.0.tar.gz"]
    assert scripted.hits("/simple/r-demo/") == 2


def test_retry_after_is_waited_for(scripted: ScriptedServer, session: Session) -> None:
    index = page(scripted, session, Reply(503, headers={"Retry-After": "0.3"}), LISTING)
    started = time.monotonic()
    index.project_files("r-demo")
    assert time.monotonic() - started >= 0.3  # the backoff alone is 0.001 s


def test_server_errors_and_dropped_connections_are_retried(
    scripted: ScriptedServer, session: Session
) -> None:
    index = page(scripted, session, Reply(503), Reply(drop=True), LISTING)
    assert len(index.project_files("r-demo")) == 1
    assert scripted.hits("/simple/r-demo/") == 3


def test_503_forever_is_named_after_the_last_try(
    scripted: ScriptedServer, session: Session
) -> None:
    index = page(scripted, session, Reply(503, headers={"Retry-After": "0"}))
    with pytest.raises(InstallError, match=r"answered HTTP 503 Service Unavailable for http"):
        index.project_files("r-demo")
    assert scripted.hits("/simple/r-demo/") == 3


def test_429_forever_suggests_a_mirror(scripted: ScriptedServer, session: Session) -> None:
    index = page(scripted, session, Reply(429))
    with pytest.raises(InstallError, match=r"rate-limited kiln \(HTTP 429\).*KILN_INDEX_URL"):
        index.project_files("r-demo")


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(
    scripted: ScriptedServer, session: Session, status: int
) -> None:
    index = page(scripted, session, Reply(status))
    with pytest.raises(InstallError) as caught:
        index.project_files("r-demo")
    assert scripted.hits("/simple/r-demo/") == 1
    if status in (401, 403):
        assert "credentials" in str(caught.value)
    assert isinstance(caught.value, ProjectNotFound) == (status == 404)


def test_connection_refused_names_the_url_and_where_it_is_set() -> None:
    url = f"http://127.0.0.1:{free_port()}/simple/"
    with Session(retries=1, backoff=0.001) as s, pytest.raises(InstallError) as caught:
        Index(url, s).project_files("x")
    message = str(caught.value)
    assert message.startswith(f"Cannot reach the package index at {url}x/")
    assert "KILN_INDEX_URL" in message and "network" in message


def test_a_hung_server_times_out_after_the_retries(scripted: ScriptedServer) -> None:
    scripted.route("/simple/slow/", Reply(200, "late", delay=10))
    with (
        Session(timeout=0.2, retries=1, backoff=0.001) as s,
        pytest.raises(InstallError, match=r"did not answer within 0.2 s \(2 tries\)"),
    ):
        Index(scripted.url + "simple/", s).project_files("slow")
    assert scripted.hits("/simple/slow/") == 2


def test_a_tls_problem_mentions_ssl_cert_file(scripted: ScriptedServer) -> None:
    url = scripted.url.replace("http://", "https://") + "simple/"
    with (
        Session(retries=3, backoff=0.001) as s,
        pytest.raises(InstallError, match=r"TLS/certificate problem.*SSL_CERT_FILE"),
    ):
        Index(url, s).project_files("x")
    assert len(scripted.requests) == 0  # not HTTP at all, and not retried


def test_an_unsupported_url_scheme_is_named(session: Session) -> None:
    with pytest.raises(InstallError, match=r"ftp://.* is not a URL kiln can fetch"):
        Index("ftp://example.org/simple/", session).project_files("x")


# --- choosing a wheel -------------------------------------------------------------------

LINUX_311 = [
    *cpython_tags((3, 11), abis=["cp311"], platforms=["manylinux_2_17_x86_64", "linux_x86_64"]),
    *compatible_tags((3, 11), "cp311", platforms=["manylinux_2_17_x86_64", "linux_x86_64"]),
]


def wheels(*names: str) -> list[IndexFile]:
    return [index_file(f"https://files.example/{n}", n) for n in names]


def test_best_wheel_prefers_the_most_specific_tag() -> None:
    files = wheels(
        "w-1.0-py3-none-any.whl",
        "w-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "w-1.0-cp311-cp311-win_amd64.whl",
        "w-1.0.tar.gz",
    )
    best = best_wheel(files, LINUX_311)
    assert best is not None and best.filename == "w-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert best_wheel(files[:1], LINUX_311) == files[0]


def test_best_wheel_is_none_when_nothing_fits() -> None:
    assert best_wheel(wheels("w-1.0-cp311-cp311-win_amd64.whl", "w-1.0.tar.gz"), LINUX_311) is None


def test_best_wheel_defaults_to_this_interpreter() -> None:
    files = wheels("w-1.0-py3-none-any.whl", "w-1.0-py2-none-any.whl")
    assert best_wheel(files) == files[0]


def test_importing_the_index_module_does_not_load_httpx() -> None:
    code = "import sys, kiln.install.index; print('httpx' in sys.modules, 'rich' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"], result.stderr
