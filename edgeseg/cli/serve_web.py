"""``edgeseg serve-web``: the phone-browser screening page with an exported artifact, on localhost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app


@app.command("serve-web")
def serve_web_cmd(
    artifact: Annotated[Optional[Path], typer.Argument(
        help="A TFLite artifact (model.tflite with manifest.json, or its folder). Default: the shipped int8 model.",
        show_default=False)] = None,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind; the default serves this machine only.")] = "127.0.0.1",
    fallback: Annotated[Optional[Path], typer.Option(
        help="Float artifact the page falls back to if the first cannot run in the browser "
             "(default: tflite_fp32 beside ARTIFACT).", show_default=False)] = None,
    no_fallback: Annotated[bool, typer.Option("--no-fallback", help="Offer only ARTIFACT.")] = False,
    web_dir: Annotated[Optional[Path], typer.Option(help="The page's folder (default: web_demo/ of this checkout).",
                                                    show_default=False)] = None,
    certfile: Annotated[Optional[Path], typer.Option(help="HTTPS certificate (PEM), for a phone on the network: "
                                                     "browsers give the camera to https:// or localhost only.")] = None,
    keyfile: Annotated[Optional[Path], typer.Option(help="Private key of --certfile, if not inside it.")] = None,
) -> None:
    """Serve web_demo/ and the artifact under /model/ (its float fallback under /model-fallback/).

    The page runs the model on the device with LiteRT.js and uploads nothing. On a phone, use
    `adb reverse tcp:PORT tcp:PORT` and open http://localhost:PORT/, or serve HTTPS.
    """
    from edgeseg.errors import ConfigError
    from edgeseg.web import WEB_DIR, make_server, plan_models

    if keyfile is not None and certfile is None:
        raise ConfigError("--keyfile needs --certfile")
    models = plan_models(artifact, fallback, use_fallback=not no_fallback)
    server = make_server(models, host=host, port=port, web_dir=web_dir or WEB_DIR, certfile=certfile, keyfile=keyfile)
    for m in models:
        role = "model" if m.route == "model" else "fallback"
        typer.echo(f"{role}: {m.folder / m.file} ({m.manifest.get('recipe')}, input {m.manifest.get('input', {}).get('dtype')})")
        if not m.sha256_ok:
            typer.echo(f"warning: {m.folder / m.file} does not match the sha256 in its manifest; the page will refuse it", err=True)
    if host not in ("127.0.0.1", "localhost", "::1") and certfile is None:
        typer.echo("note: over plain http on a network address, phone browsers refuse the camera; "
                   "use --certfile/--keyfile or `adb reverse` and localhost", err=True)
    typer.echo(f"serving {server.url}  (Ctrl-C stops)", )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()
