"""Behaviour of media_cache.py on a real directory with a fake S3.

Run by TestMediaCacheScript (synapseconfig_test.go): python3 this-file <dir
of media_cache.py>.
"""

import os
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv.pop(1))
import media_cache  # noqa: E402

DAY = 86400
NOW = 1_800_000_000.0


class FakeS3:
    def __init__(self):
        self.objects = {}
        self.broken = set()
        self.uploads = []

    def head_object(self, Bucket, Key, **kw):
        if Key in self.broken:
            e = Exception("500")
            e.response = {"Error": {"Code": "500"}}
            raise e
        if Key not in self.objects:
            e = Exception("404")
            e.response = {"Error": {"Code": "404"}}
            raise e
        return {"ContentLength": len(self.objects[Key])}

    def upload_file(self, path, bucket, key, ExtraArgs=None):
        with open(path, "rb") as f:
            self.objects[key] = f.read()
        self.uploads.append(key)


class Case(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name
        self.s3 = FakeS3()
        self.store = media_cache.Store(self.s3, {"bucket": "b"})

    def tearDown(self):
        self.dir.cleanup()

    def file(self, rel, size=100, idle_days=0, in_s3=True):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"x" * size)
        t = NOW - idle_days * DAY
        os.utime(path, (t, t))
        if in_s3:
            self.s3.objects[rel] = b"x" * size
        return path

    def run_pass(self, capacity=10**9, idle_days=7, percent=80):
        def disk(root):
            used = sum(f.size for f in media_cache.scan(root))
            return capacity, used

        return media_cache.run_once(self.root, self.store, idle_days, percent, 600, now=NOW, disk=disk)

    def test_idle_files_in_s3_are_evicted_recent_ones_kept(self):
        old = self.file("local_content/ab/cd/old", idle_days=8)
        new = self.file("local_content/ab/ce/new", idle_days=1)
        self.run_pass()
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(new))
        self.assertFalse(os.path.exists(os.path.join(self.root, "local_content/ab/cd")), "empty directories go too")

    def test_a_file_missing_from_s3_is_uploaded_before_eviction(self):
        old = self.file("remote_content/example.org/ab/cd/x", idle_days=30, in_s3=False)
        self.run_pass()
        self.assertEqual(self.s3.uploads, ["remote_content/example.org/ab/cd/x"])
        self.assertFalse(os.path.exists(old))

    def test_a_file_s3_holds_with_another_size_is_kept(self):
        old = self.file("local_content/ab/cd/x", idle_days=30)
        self.s3.objects["local_content/ab/cd/x"] = b"short"
        self.run_pass()
        self.assertTrue(os.path.exists(old))

    def test_an_s3_error_keeps_the_file(self):
        old = self.file("local_content/ab/cd/x", idle_days=30)
        self.s3.broken.add("local_content/ab/cd/x")
        self.run_pass()
        self.assertTrue(os.path.exists(old))

    def test_the_url_preview_cache_is_never_evicted(self):
        a = self.file("url_cache/2026-01-01/x", idle_days=300, in_s3=False)
        b = self.file("url_cache_thumbnails/2026-01-01/x/32-32", idle_days=300, in_s3=False)
        self.run_pass(capacity=100, percent=10)
        self.assertTrue(os.path.exists(a) and os.path.exists(b))
        self.assertEqual(self.s3.uploads, [])

    def test_the_size_bound_evicts_least_recently_used_first(self):
        paths = [self.file("local_content/aa/bb/f%d" % i, size=100, idle_days=i * 0.1) for i in range(10)]
        # 1000 bytes used of 1000: down to 50 % evicts the five least recently used.
        self.run_pass(capacity=1000, percent=50)
        self.assertEqual([os.path.exists(p) for p in paths], [True] * 5 + [False] * 5)

    def test_files_in_flight_are_never_evicted(self):
        path = self.file("local_content/aa/bb/new", size=1000)
        os.utime(path, (NOW - 30, NOW - 30))  # written 30 s ago
        self.run_pass(capacity=1000, percent=10)
        self.assertTrue(os.path.exists(path))

    def test_s3_settings_need_a_synchronous_provider(self):
        conf = os.path.join(self.root, "homeserver.yaml")
        provider = "- module: s3_storage_provider.S3StorageProviderBackend\n  store_local: true\n  store_remote: true\n  store_synchronous: %s\n  config: {bucket: m}\n"
        for body, want in [
            ("media_store_path: /media\n", None),
            ("media_storage_providers:\n" + provider % "false", None),
            ("media_storage_providers:\n" + provider % "true", {"bucket": "m"}),
        ]:
            with open(conf, "w") as f:
                f.write(body)
            self.assertEqual(media_cache.s3_settings(conf), want, body)

    def test_without_s3_nothing_is_evicted(self):
        conf = os.path.join(self.root, "homeserver.yaml")
        with open(conf, "w") as f:
            f.write("media_store_path: /media\n")
        media = os.path.join(self.root, "media")
        path = os.path.join(media, "local_content/ab/cd/x")
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(b"x")
        os.utime(path, (time.time() - 1000 * DAY,) * 2)
        rc = media_cache.main(["--media", media, "--config", conf, "--max-idle-days", "1",
                               "--max-usage-percent", "10", "--once"])
        self.assertEqual(rc, 0)
        self.assertTrue(os.path.exists(path))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
