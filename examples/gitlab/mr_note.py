"""ci/mr_note.py: post FILE as the merge request's certplan note, or update the note an
earlier pipeline posted (found by its marker). Standard library only."""

import json
import os
import sys
import urllib.request

MARKER = "<!-- certplan plan -->"


def call(method: str, path: str, body: dict | None = None) -> object:
    url = f"{os.environ['CI_API_V4_URL']}/projects/{os.environ['CI_PROJECT_ID']}{path}"
    request = urllib.request.Request(
        url, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"PRIVATE-TOKEN": os.environ["CERTPLAN_NOTE_TOKEN"],
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        body = f"{MARKER}\n{handle.read()}"
    notes = f"/merge_requests/{os.environ['CI_MERGE_REQUEST_IID']}/notes"
    mine = [n for n in call("GET", notes + "?per_page=100&sort=asc")
            if n.get("body", "").startswith(MARKER)]
    if mine:
        call("PUT", f"{notes}/{mine[0]['id']}", {"body": body})
    else:
        call("POST", notes, {"body": body})


if __name__ == "__main__":
    main()
