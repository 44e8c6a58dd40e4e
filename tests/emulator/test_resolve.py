"""html_handling and not_found_handling corners beyond Cloudflare's own table: what a request gets."""

from __future__ import annotations

import pytest

from assetsync.emulator.preview.resolve import Resolution, Site, SiteConfig

AUTO, FORCE, DROP, NONE = "auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"


def get(paths: tuple[str, ...], path: str, **config: str) -> Resolution:
    return Site(paths, SiteConfig(**config)).resolve("GET", path)


def test_invalid_settings_list_every_allowed_value() -> None:
    with pytest.raises(ValueError) as info:
        SiteConfig(html_handling="auto")
    assert str(info.value) == (
        "html_handling 'auto' is not one of: auto-trailing-slash, force-trailing-slash, "
        "drop-trailing-slash, none"
    )
    with pytest.raises(ValueError) as info:
        SiteConfig(not_found_handling="spa")
    assert (
        str(info.value) == "not_found_handling 'spa' is not one of: none, 404-page, single-page-application"
    )


@pytest.mark.parametrize("path", ["/a/x\x00", "/a/./x", "/a/x/.."])
def test_a_path_that_can_match_no_asset_gets_the_root_404_page_not_its_folders(path: str) -> None:
    files = ("/404.html", "/a/404.html", "/a/x\x00", "/a/./x")
    assert get(files, path, not_found_handling="404-page") == Resolution(404, "/404.html")


def test_membership_is_the_set_of_asset_keys() -> None:
    s = Site(["/a.html", "/b/index.html"])
    assert "/a.html" in s and "/b/index.html" in s
    assert "/a" not in s and "/c" not in s
    assert len(s) == 2 and s.paths == frozenset({"/a.html", "/b/index.html"})


def test_root_to_index_redirect_rule_is_kept_only_without_html_handling() -> None:
    rule = "/ /index.html 301"
    none = Site(["/index.html"], SiteConfig(html_handling=NONE, redirects=rule))
    assert none.warnings == ()
    assert none.resolve("GET", "/") == Resolution(301, location="/index.html")
    auto = Site(["/index.html"], SiteConfig(redirects=rule))
    assert [w.message for w in auto.warnings][0].startswith("Infinite loop detected")
    assert auto.resolve("GET", "/") == Resolution(200, "/index.html")


@pytest.mark.parametrize("mode", [AUTO, DROP])
@pytest.mark.parametrize("files", [("/a/index.html",), ("/a.html", "/a/index.html")])
def test_a_folder_named_index_redirects_to_the_file_it_stands_for(mode: str, files: tuple[str, ...]) -> None:
    # /a/index/ stands for /a/index.html, which is canonically /a/index (resolved without redirects).
    assert get(files, "/a/index/", html_handling=mode) == Resolution(307, location="/a/index")


@pytest.mark.parametrize("mode", [AUTO, DROP])
def test_a_double_html_extension_drops_one(mode: str) -> None:
    files = ("/a.html", "/a/index.html.html")
    assert get(files, "/a/index.html.html", html_handling=mode) == Resolution(307, location="/a/index.html")


@pytest.mark.parametrize("mode", [AUTO, FORCE, DROP, NONE])
def test_404_page_in_every_html_mode(mode: str) -> None:
    files = ("/404.html", "/a/404.html", "/index.html")
    assert get(files, "/missing", html_handling=mode, not_found_handling="404-page") == Resolution(
        404, "/404.html"
    )
    assert get(files, "/a/b/c", html_handling=mode, not_found_handling="404-page") == Resolution(
        404, "/a/404.html"
    )


def test_a_404_page_serves_only_its_own_folder() -> None:
    files = ("/ab/404.html",)
    assert get(files, "/a.html", not_found_handling="404-page") == Resolution(404)
    assert get(files, "/abc/x", not_found_handling="404-page") == Resolution(404)
    assert get(files, "/ab/x", not_found_handling="404-page") == Resolution(404, "/ab/404.html")


def test_a_key_without_a_hash_never_matches_one_with_a_hash_spelled_alike() -> None:
    # Two different files: /a.html's hash happens to read like the other key, which has none.
    s = Site(["/a.html", "/a/index.html"], SiteConfig(html_handling=DROP), etags={"/a.html": "/a/index.html"})
    assert s.resolve("GET", "/a/index.html") == Resolution(200, "/a/index.html")
    s = Site(["/a.html", "/a/index.html"], SiteConfig(html_handling=DROP), etags={"/a/index.html": "/a.html"})
    assert s.resolve("GET", "/a/index.html") == Resolution(200, "/a/index.html")
