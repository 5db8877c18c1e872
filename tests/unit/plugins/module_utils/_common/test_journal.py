from __future__ import annotations

import json
from datetime import datetime, timezone

from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import (
    JsonlJournal,
    parse_utc_stamp,
    utc_stamp,
)


def test_every_journal_entry_is_redacted_on_its_way_in(tmp_path):
    path = tmp_path / "run.jsonl"
    journal = JsonlJournal(str(path), {"journal": "test", "source": "s3://ak:header-secret@rgw/b"})
    journal.write({"image_id": "a", "step": "copy",
                   "message": "copy-image from swift+https://svc:glance:k3y-value@ks/v3/c/a failed",
                   "url": "https://rgw/b/o?X-Amz-Signature=516nature"})
    journal.close()
    text = path.read_text()
    for secret in ("header-secret", "k3y-value", "516nature"):
        assert secret not in text
    entry = json.loads(text.splitlines()[1])
    assert entry["message"] == "copy-image from swift+https://***@ks/v3/c/a failed"


def test_utc_stamps_read_back_as_the_time_they_name():
    when = datetime(2026, 12, 2, 5, 24, 15, tzinfo=timezone.utc)
    assert utc_stamp(when=when) == "2026-12-02T05:24:15Z" and utc_stamp(compact=True, when=when) == "20261202T052415Z"
    assert parse_utc_stamp(utc_stamp(when=when)) == when
    assert parse_utc_stamp("20261202T052415Z") is None and parse_utc_stamp(None) is None
