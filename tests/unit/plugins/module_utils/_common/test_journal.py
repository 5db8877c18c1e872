from __future__ import annotations

import json

from ansible_collections.storeops.openstack.plugins.module_utils._common.journal import JsonlJournal


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
