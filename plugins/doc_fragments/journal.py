# Copyright: storeops.openstack contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Where the journaling modules keep their journals: a local directory, and optionally a
    # Swift container or S3 bucket that outlives the host (an AWX execution environment).
    DOCUMENTATION = r"""
options:
  journal_dir:
    description:
      - Directory of the journal of a run that changes something (JSON Lines, mode 0600), named
        after the module, the time of the run and the process, and returned as RV(journal). The
        journal is always written here first, each entry flushed at once.
    type: path
    default: ~/.storeops/journals
  journal_url:
    description:
      - Also ship the journal to C(swift://container/prefix) (through the module's cloud
        connection) or C(s3://bucket/prefix) (through the O(journal_s3_endpoint_url) options),
        for hosts whose files do not outlive the run, such as an AWX execution environment.
      - The container or bucket is created if missing, before anything else changes. The journal
        goes as one object per flush, every 100 entries or 10 seconds and at the end, named
        C(<prefix>/<run id>/<sequence>.jsonl); the objects in name order are the local file, so
        a killed run leaves all but its last seconds there. The run's URL is returned as
        RV(journal_url).
      - A shipment that fails is a warning and is retried with the next one; the run goes on,
        and the local file in O(journal_dir) keeps the whole journal.
      - No shipment writes over an object (C(If-None-Match)); a retry that finds its own bytes
        there counts them as shipped. An object this run did not write at a name is kept, with a
        warning, and nothing more is shipped; the local file then is the journal to keep.
      - Credentials never go in the URL (C(s3://key:secret@bucket) is refused).
    type: str
  journal_s3_endpoint_url:
    description: The S3 endpoint of an C(s3://) O(journal_url), such as C(https://rgw.example.com).
    type: str
  journal_s3_access_key:
    description: The S3 access key of an C(s3://) O(journal_url).
    type: str
  journal_s3_secret_key:
    description: The S3 secret key of an C(s3://) O(journal_url).
    type: str
  journal_s3_region:
    description: The S3 region of an C(s3://) O(journal_url).
    type: str
    default: us-east-1
  journal_s3_validate_certs:
    description: Check the TLS certificate of O(journal_s3_endpoint_url).
    type: bool
    default: true
"""
