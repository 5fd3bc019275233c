"""``/downloads/``: the agent's installers for the PCs of the LAN, with their SHA-256; no token (a PC
being installed has none). Ukrainian by default, ``?lang=en`` for English."""

from __future__ import annotations

import base64
import html
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

from collector.agents.distribution import CHECKSUMS_NAME, Artefact, Distribution, NotServed
from collector.agents.ingest import Rejected
from collector.api.common import runtime_of

router = APIRouter(tags=["downloads"])

TEXT = {
    "uk": {
        "title": "Дозор: встановлення агента",
        "intro": "Файли для встановлення агента Дозору на ПК. Перевірте контрольну суму SHA-256 "
        "завантаженого файлу (файл SHA256SUMS, <code>sha256sum -c</code> або "
        "<code>Get-FileHash</code>).",
        "file": "Файл",
        "size": "Розмір, байт",
        "changed": "Змінено (UTC)",
        "empty": "Тут поки немає файлів.",
    },
    "en": {
        "title": "Dozor: installing the agent",
        "intro": "Files to install the Dozor agent on a PC. Check the SHA-256 of what you downloaded "
        "(the SHA256SUMS file, <code>sha256sum -c</code> or <code>Get-FileHash</code>).",
        "file": "File",
        "size": "Size, bytes",
        "changed": "Changed (UTC)",
        "empty": "No files here yet.",
    },
}
Language = Annotated[Literal["uk", "en"], Query(description="page language")]


def _distribution(request: Request) -> Distribution:
    distribution = runtime_of(request).distribution
    if distribution is None:
        raise Rejected(
            404, "downloads_not_configured", "this collector serves no downloads (downloads.directory)"
        )
    return distribution


def _index(artefacts: list[Artefact], lang: str) -> str:
    text = TEXT[lang]
    rows = "".join(
        f'<tr><td><a href="{html.escape(item.name)}">{html.escape(item.name)}</a></td>'
        f"<td>{item.size_bytes:,}</td><td>{item.modified_at:%Y-%m-%d %H:%M}</td>".replace(",", "\u202f")
        + f"<td><code>{item.sha256}</code></td></tr>"
        for item in artefacts
    )
    table = (
        f"<table><thead><tr><th>{text['file']}</th><th>{text['size']}</th><th>{text['changed']}</th>"
        f"<th>SHA-256</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<p><a href="{CHECKSUMS_NAME}">{CHECKSUMS_NAME}</a></p>'
        if artefacts
        else f"<p>{text['empty']}</p>"
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{text['title']}</title></head><body><h1>{text['title']}</h1>"
        f"<p>{text['intro']}</p>{table}</body></html>"
    )


@router.get("/downloads/", response_class=HTMLResponse, summary="The installers on offer, with their SHA-256")
async def downloads_index(request: Request, lang: Language = "uk") -> HTMLResponse:
    artefacts = await run_in_threadpool(_distribution(request).artefacts)
    return HTMLResponse(_index(artefacts, lang))


@router.get(
    f"/downloads/{CHECKSUMS_NAME}",
    response_class=PlainTextResponse,
    summary="SHA-256 of every file offered, in sha256sum's format",
)
async def downloads_checksums(request: Request) -> PlainTextResponse:
    return PlainTextResponse(await run_in_threadpool(_distribution(request).checksums))


@router.get("/downloads/{name:path}", response_class=FileResponse, summary="One file offered")
async def download(name: str, request: Request) -> FileResponse:
    distribution = _distribution(request)
    try:
        artefact = await run_in_threadpool(distribution.artefact, name)
    except NotServed:
        raise Rejected(404, "not_found", "no such file in the downloads") from None
    digest = base64.b64encode(bytes.fromhex(artefact.sha256)).decode()
    return FileResponse(
        distribution.root / artefact.name,
        filename=artefact.name.rsplit("/", 1)[-1],
        headers={"Repr-Digest": f"sha-256=:{digest}:", "Cache-Control": "no-cache"},
    )
