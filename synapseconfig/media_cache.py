"""Keeps a Synapse media worker's local media store a bounded cache of S3.

Runs next to Synapse in each media worker pod (the pod's own volume: a
CronJob could not mount a StatefulSet pod's ReadWriteOnce claim), and only
when media is also in S3 through synapse-s3-storage-provider with
store_local and store_synchronous on.

Why evicting is safe there:
  * With store_synchronous, Synapse awaits the provider's upload before an
    upload (or a thumbnail, or a cached remote file) is acknowledged, and
    deletes the local file if that upload fails (MediaStorage.store_into_file).
  * On a local miss Synapse asks its storage providers (MediaStorage.fetch_media,
    ensure_media_is_in_local_cache), so an evicted file is streamed from S3.
  * This script checks anyway: a file is deleted only after S3 answers that
    it holds an object of the same size under the same key (prefix + path,
    the provider's key), and a file S3 lacks (written before S3 was turned
    on) is uploaded first. Files younger than --min-age-seconds (in flight)
    and the URL preview cache (never offloaded: StorageProviderWrapper skips
    url_cache) are never touched.

Every pass evicts files not read or written for --max-idle-days, then, while
the volume is fuller than --max-usage-percent, the least recently used
others. Without a synchronous S3 provider in the config it deletes nothing.
"""

import argparse
import logging
import os
import stat
import sys
import time

import yaml

log = logging.getLogger("media-cache")

S3_MODULE = "s3_storage_provider.S3StorageProviderBackend"
# Top-level directories that are never evicted: the URL preview cache is
# not in S3, and lost+found belongs to the file system.
NEVER_EVICTED = {"url_cache", "url_cache_thumbnails", "lost+found"}
DAY = 86400


def s3_settings(homeserver_yaml):
    """The S3 provider's config when media is stored to S3 synchronously
    (local and remote media), else None: then the local store may be the
    only copy, and nothing may be evicted."""
    with open(homeserver_yaml) as f:
        hs = yaml.safe_load(f) or {}
    for p in hs.get("media_storage_providers") or []:
        if (
            p.get("module") == S3_MODULE
            and p.get("store_local")
            and p.get("store_remote")
            and p.get("store_synchronous")
        ):
            return p.get("config") or {}
    return None


def s3_client(cfg):
    """A boto3 client as the provider builds it; credentials from the
    environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."""
    import boto3

    kwargs = {}
    for ours, theirs in (
        ("endpoint_url", "endpoint_url"),
        ("region_name", "region_name"),
        ("access_key_id", "aws_access_key_id"),
        ("secret_access_key", "aws_secret_access_key"),
    ):
        if ours in cfg:
            kwargs[theirs] = cfg[ours]
    return boto3.session.Session().client("s3", **kwargs)


class Store:
    """The bucket, as the provider writes it."""

    def __init__(self, client, cfg):
        self.client = client
        self.bucket = cfg["bucket"]
        self.prefix = cfg.get("prefix", "")
        self.sse = {}
        if "sse_customer_key" in cfg:
            self.sse = {
                "SSECustomerKey": cfg["sse_customer_key"],
                "SSECustomerAlgorithm": cfg.get("sse_customer_algo", "AES256"),
            }
        self.extra = dict(self.sse, StorageClass=cfg.get("storage_class", "STANDARD"))

    def size_of(self, rel):
        """The size of the object at rel, None if there is none."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + rel, **self.sse)
        except Exception as e:  # botocore's ClientError, without importing botocore
            code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head["ContentLength"]

    def upload(self, path, rel):
        self.client.upload_file(path, self.bucket, self.prefix + rel, ExtraArgs=self.extra)


class Entry:
    def __init__(self, path, rel, size, last_used, mtime):
        self.path, self.rel, self.size, self.last_used, self.mtime = path, rel, size, last_used, mtime


def scan(root):
    """Every regular file of the store but those never evicted."""
    out = []

    def warn(err):
        log.warning("cannot read %s: %s", getattr(err, "filename", "?"), err)

    for dirpath, dirnames, filenames in os.walk(root, onerror=warn):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in NEVER_EVICTED]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = os.path.relpath(path, root)
            # atime is updated at most daily on relatime mounts (and never on
            # noatime ones, where a file's age since its last write counts).
            out.append(Entry(path, rel, st.st_size, max(st.st_atime, st.st_mtime), st.st_mtime))
    return out


def usage(root):
    """(capacity, used) of the volume in bytes."""
    st = os.statvfs(root)
    return st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bfree) * st.f_frsize


def choose(files, now, max_idle_days, max_usage_percent, capacity, used, min_age):
    """The files to evict, least recently used first."""
    settled = [f for f in files if now - f.mtime >= min_age]
    chosen = {f.path: f for f in settled if now - f.last_used >= max_idle_days * DAY}
    target = capacity * max_usage_percent / 100
    projected = used - sum(f.size for f in chosen.values())
    for f in sorted(settled, key=lambda f: f.last_used):
        if projected <= target:
            break
        if f.path not in chosen:
            chosen[f.path] = f
            projected -= f.size
    return sorted(chosen.values(), key=lambda f: f.last_used)


def remove_empty_dirs(root, path):
    d = os.path.dirname(path)
    while d != root and d.startswith(root + os.sep):
        try:
            os.rmdir(d)
        except OSError:
            return
        d = os.path.dirname(d)


def run_once(root, store, max_idle_days, max_usage_percent, min_age, now=None, disk=usage):
    """One pass; returns (evicted files, bytes, uploaded first, kept)."""
    now = time.time() if now is None else now
    capacity, used = disk(root)
    files = scan(root)
    evicted = freed = uploaded = kept = 0
    for f in choose(files, now, max_idle_days, max_usage_percent, capacity, used, min_age):
        try:
            remote = store.size_of(f.rel)
            if remote is None:
                store.upload(f.path, f.rel)
                uploaded += 1
                remote = store.size_of(f.rel)
            if remote != f.size or os.path.getsize(f.path) != f.size:
                log.warning("kept %s: S3 holds %s bytes, the local file %d", f.rel, remote, f.size)
                kept += 1
                continue
            os.remove(f.path)
        except Exception as e:
            log.warning("kept %s: %s", f.rel, e)
            kept += 1
            continue
        remove_empty_dirs(root, f.path)
        evicted += 1
        freed += f.size
    log.info(
        "evicted %d files (%d bytes; %d uploaded to S3 first), kept %d; %d files stay; volume %.0f%% used before",
        evicted, freed, uploaded, kept, len(files) - evicted, 100.0 * used / capacity if capacity else 0,
    )
    return evicted, freed, uploaded, kept


def main(argv):
    p = argparse.ArgumentParser(prog="media-cache")
    p.add_argument("--media", required=True, help="media_store_path")
    p.add_argument("--config", required=True, help="homeserver.yaml with media_storage_providers")
    p.add_argument("--max-idle-days", type=int, required=True)
    p.add_argument("--max-usage-percent", type=int, required=True)
    p.add_argument("--min-age-seconds", type=int, default=600)
    p.add_argument("--interval-seconds", type=int, default=600)
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    a = p.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    root = os.path.abspath(a.media)
    store = None
    while True:
        try:
            cfg = s3_settings(a.config)
            if cfg is None:
                log.warning("%s has no synchronous S3 storage provider: the local store may be the only copy; nothing is evicted", a.config)
            else:
                store = store or Store(s3_client(cfg), cfg)
                run_once(root, store, a.max_idle_days, a.max_usage_percent, a.min_age_seconds)
        except Exception:
            log.exception("pass failed; nothing more is evicted until the next one")
        if a.once:
            return 0
        time.sleep(a.interval_seconds)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
