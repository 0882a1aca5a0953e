"""Serve the phone-browser screening page (``web_demo/``) with an exported artifact.

The page is static: HTML, JS, the LiteRT.js runtime (copied out of ``node_modules`` into
``web_demo/vendor/`` by ``npm ci``) and a model. This module adds only what a static host cannot
know: which artifacts to offer, under fixed URLs the page looks for::

    /models.json            the artifacts in the order the page tries them
    /model/<file>           the chosen artifact's folder: model file, manifest.json, golden/*
    /model-fallback/<file>  the float artifact the page falls back to (when there is one)

It answers GET and HEAD only, from the loopback interface by default; the page never sends
anything back (its content security policy allows connections to its own origin only, and it
only ever downloads). Every request is kept in ``server.requests`` so a test can prove that.

A phone browser grants the camera only to a secure origin: ``localhost`` (e.g. over
``adb reverse tcp:8000 tcp:8000``) or HTTPS (``--certfile``/``--keyfile``).
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
import ssl
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from edgeseg.errors import RunError
from edgeseg.formats import MODEL_FORMATS

WEB_DIR = Path(__file__).resolve().parents[1] / "web_demo"
ROUTES = ("model", "model-fallback")
# The page runs TFLite models only (LiteRT.js); it asks each route for the format's file name.
TFLITE = MODEL_FORMATS.get("tflite")
# What a browser needs to run the page; vendor/ is created by `npm ci` in web_demo.
REQUIRED = ("index.html", "app.js", "screen.js", "engine.js", "sw.js", "manifest.webmanifest",
            "vendor/litertjs/core/index.js", "vendor/litertjs/wasm")
# Never served even though they sit in web_demo/.
HIDDEN = ("node_modules", "package.json", "package-lock.json", "vendor.mjs", "ci_test.sh")


@dataclass(frozen=True)
class ServedModel:
    """One artifact offered to the page under ``/<route>/``."""

    route: str
    folder: Path
    file: str
    label: str
    manifest: dict[str, Any]
    sha256_ok: bool = True

    def entry(self) -> dict[str, Any]:
        m = self.manifest
        return {"label": self.label, "base": f"{self.route}/", "file": self.file, "format": m.get("format"),
                "recipe": m.get("recipe"), "input_dtype": (m.get("input") or {}).get("dtype"),
                "size_bytes": m.get("size_bytes")}


def resolve_model_file(path: Path) -> Path:
    """An artifact folder or its model file -> the ``.tflite`` file, with its manifest beside it.

    Raises:
        RunError: missing path, no manifest, or not a TFLite artifact (the page runs LiteRT.js).
    """
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}: no such artifact; export one with `edgeseg export` or pass the path of a model.tflite")
    folder = path if path.is_dir() else path.parent
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise RunError(f"{folder}: no manifest.json, so the page cannot know the model's preprocessing and threshold; "
                       "serve an exported artifact (edgeseg export)")
    try:
        m = json.loads(manifest.read_text())
        name = m["file"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{manifest}: not a valid edgeseg manifest ({e})") from None
    model = folder / name if path.is_dir() else path
    if model.suffix.lower() != TFLITE.suffix or m.get("format") != TFLITE.name:
        raise RunError(f"{model}: the page runs TFLite models (LiteRT.js); pass a tflite artifact, not {m.get('format') or model.suffix}")
    if not model.is_file():
        raise RunError(f"{model}: model file missing beside its manifest")
    return model


def _served(route: str, model: Path) -> ServedModel:
    from edgeseg.artifact import sha256_file

    m = json.loads((model.parent / "manifest.json").read_text())
    ok = m.get("file") != model.name or sha256_file(model) == m.get("sha256")
    return ServedModel(route, model.parent, model.name, model.parent.name, m, ok)


def default_fallback(primary: Path) -> Path | None:
    """The float TFLite to fall back to: ``tflite_fp32`` (else ``tflite_fp16``) beside the primary
    artifact's folder, unless the primary already is float."""
    m = json.loads((primary.parent / "manifest.json").read_text())
    if m.get("recipe") in ("fp32", "fp16"):
        return None
    for label in ("tflite_fp32", "tflite_fp16"):
        folder = primary.parent.parent / label
        if (folder / "manifest.json").is_file() and folder != primary.parent:
            try:
                return resolve_model_file(folder)
            except RunError:
                continue
    return None


def plan_models(artifact: Path | None = None, fallback: Path | None = None,
                use_fallback: bool = True) -> list[ServedModel]:
    """The artifacts to serve: ``artifact`` (default: the shipped int8 TFLite) and its float fallback."""
    from edgeseg.defaults import DEFAULT_ARTIFACT

    primary = resolve_model_file(artifact if artifact is not None else DEFAULT_ARTIFACT)
    models = [_served(ROUTES[0], primary)]
    if use_fallback:
        fb = resolve_model_file(fallback) if fallback is not None else default_fallback(primary)
        if fb is not None and fb.resolve() != primary.resolve():
            models.append(_served(ROUTES[1], fb))
    return models


def check_web_dir(web_dir: Path = WEB_DIR) -> Path:
    """Raise RunError unless ``web_dir`` holds the page and the vendored LiteRT.js runtime."""
    web_dir = Path(web_dir)
    missing = [r for r in REQUIRED if not (web_dir / r).exists()]
    if missing:
        hint = (f"run `npm ci` in {web_dir} first (it copies LiteRT.js into vendor/)"
                if any(r.startswith("vendor/") for r in missing) else "is this the edgeseg web_demo folder?")
        raise RunError(f"{web_dir}: missing {', '.join(missing)}; {hint}")
    return web_dir


@dataclass
class RequestLog:
    """Every request the server answered: (method, path, status)."""

    entries: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.entries.append((method, path, status))

    def snapshot(self) -> list[tuple[str, str, int]]:
        with self.lock:
            return list(self.entries)


class WebServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], web_dir: Path, models: list[ServedModel]) -> None:
        self.web_dir = Path(web_dir).resolve()
        self.models = {m.route: m for m in models}
        self.requests = RequestLog()
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
        return f"{scheme}://{shown}:{port}/"

    def models_json(self) -> bytes:
        body = {"served_by": "edgeseg serve-web", "models": [m.entry() for m in self.models.values()]}
        return json.dumps(body, indent=1).encode()


class _Handler(SimpleHTTPRequestHandler):
    server: WebServer
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript", ".mjs": "text/javascript",
        ".wasm": "application/wasm", ".webmanifest": "application/manifest+json", ".json": "application/json",
        ".tflite": "application/octet-stream", ".f32": "application/octet-stream", ".svg": "image/svg+xml",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.server.requests.add(self.command, self.path, int(code))
        super().send_response(code, message)

    def end_headers(self) -> None:
        # Cross-origin isolation lets LiteRT.js use its multi-threaded Wasm build; no-cache makes
        # the browser revalidate (the service worker keeps the offline copy).
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "this server only serves files; the page uploads nothing")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # type: ignore[assignment]

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/models.json":
            body = self.server.models_json()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().do_GET()

    def list_directory(self, path: str | Any) -> None:  # type: ignore[override]
        self.send_error(HTTPStatus.NOT_FOUND, "no directory listings")

    def translate_path(self, path: str) -> str:
        """URL path -> file, inside web_dir or a served artifact's folder only (else a path that does not exist)."""
        parts = [p for p in posixpath.normpath(unquote(urlsplit(path).path)).split("/") if p and p != "."]
        nowhere = str(self.server.web_dir / ".missing")
        if any(p == ".." or p.startswith(".") for p in parts):
            return nowhere
        if parts and parts[0] in self.server.models:
            m = self.server.models[parts[0]]
            rest = parts[1:]
            if rest == [TFLITE.filename]:
                rest = [m.file]
            return str(m.folder.joinpath(*rest)) if rest else nowhere
        if parts and parts[0] in HIDDEN:
            return nowhere
        if not parts:
            return str(self.server.web_dir / "index.html")
        return str(self.server.web_dir.joinpath(*parts))

    def guess_type(self, path: str | Any) -> str:
        ext = Path(str(path)).suffix.lower()
        return self.extensions_map.get(ext) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def make_server(models: list[ServedModel], host: str = "127.0.0.1", port: int = 8000, web_dir: Path = WEB_DIR,
                certfile: Path | None = None, keyfile: Path | None = None) -> WebServer:
    """A ready (bound, not yet serving) server; ``port=0`` picks a free port. Call ``serve_forever()``."""
    check_web_dir(web_dir)
    try:
        server = WebServer((host, port), web_dir, models)
    except OSError as e:
        raise RunError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port") from None
    if certfile is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
        except (OSError, ssl.SSLError) as e:
            server.server_close()
            raise RunError(f"cannot use {certfile} as the HTTPS certificate ({e})") from None
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return server


def start_background(server: WebServer) -> threading.Thread:
    """Serve from a daemon thread (tests); stop with ``server.shutdown(); server.server_close()``."""
    thread = threading.Thread(target=server.serve_forever, name="edgeseg-web", daemon=True)
    thread.start()
    return thread
