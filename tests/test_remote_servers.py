"""The loopback servers of tests/remote_servers.py, checked with the real clients the pipeline uses
(fsspec's HTTPFileSystem, s3fs/boto3 on moto, huggingface_hub/HfFileSystem on the Hub stand-in), so a
test of the remote-input feature that fails points at the feature, not at its test set-up."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import fsspec
import pytest

from remote_servers import HttpFileServer, HubProcess
from s3_server import Bucket

LINES = [json.dumps({"id": i, "text": f"document {i} " + "x" * i}) + "\n" for i in range(200)]
BODY = "".join(LINES).encode()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# ================================================================ HTTP file server


def test_http_info_etag_last_modified_and_change(http_server: HttpFileServer) -> None:
    (http_server.root / "a.jsonl").write_bytes(BODY)
    fs = fsspec.filesystem("http")
    url = f"{http_server.url}/a.jsonl"
    info = fs.info(url)
    assert info["size"] == len(BODY)
    assert info["ETag"] == f'"{_sha(BODY)}"'
    assert info["Last-Modified"].endswith("GMT")
    st = (http_server.root / "a.jsonl").stat()
    new = BODY.replace(b"document 7 ", b"document 8 ")  # same size
    (http_server.root / "a.jsonl").write_bytes(new)
    os.utime(http_server.root / "a.jsonl", ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime too
    fs.invalidate_cache()
    assert fs.info(url)["ETag"] == f'"{_sha(new)}"'
    assert fs.cat_file(url) == new
    assert [e["method"] for e in http_server.log()][:1] == ["HEAD"]


def test_http_range_reads_through_fsspec_and_raw(http_server: HttpFileServer) -> None:
    (http_server.root / "a.jsonl").write_bytes(BODY)
    url = f"{http_server.url}/a.jsonl"
    fs = fsspec.filesystem("http")
    assert fs.cat_file(url, start=100, end=250) == BODY[100:250]
    with fs.open(url, "rb", block_size=1000) as f:  # random access file: Range requests
        f.seek(5000)
        assert f.read(300) == BODY[5000:5300]
    ranged = [e for e in http_server.log() if e["range"]]
    assert ranged and all(e["status"] == 206 for e in ranged)
    assert {"range": "bytes=100-249", "status": 206, "bytes": 150}.items() <= ranged[0].items()

    def get(rng: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": rng})) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    status, headers, data = get("bytes=-10")
    assert (status, headers["Content-Range"], data) == (206, f"bytes {len(BODY) - 10}-{len(BODY) - 1}/{len(BODY)}", BODY[-10:])
    status, headers, _ = get(f"bytes={len(BODY)}-")
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(BODY)}")
    status, _, data = get("bytes=0-1,5-6")  # several ranges: the whole file, as RFC 9110 allows
    assert (status, data) == (200, BODY)


def test_http_gzip_stream_and_listing(http_server: HttpFileServer) -> None:
    urls = http_server.publish({f"data/part-{i}.jsonl.gz": gzip.compress(BODY) for i in range(3)})
    assert urls == [f"{http_server.url}/data/part-{i}.jsonl.gz" for i in range(3)]
    listed = fsspec.open(f"{http_server.url}/urls.txt", "rt").open().read().split()
    assert listed == urls
    with fsspec.open(urls[1], "rt", compression="gzip") as f:  # no Content-Encoding: bytes arrive as stored
        assert f.readlines() == LINES
    fs = fsspec.filesystem("http")
    assert sorted(fs.ls(f"{http_server.url}/data/", detail=False)) == urls
    assert sorted(fs.glob(f"{http_server.url}/data/*.gz")) == urls


def test_http_status_faults(http_server: HttpFileServer) -> None:
    (http_server.root / "a.jsonl").write_bytes(BODY)
    url = f"{http_server.url}/a.jsonl"
    fs = fsspec.filesystem("http")
    http_server.fail("/a.jsonl", 503, count=2, methods=["GET"])
    for _ in range(2):
        with pytest.raises(Exception, match="503"):
            fs.cat_file(url)
    assert fs.cat_file(url) == BODY  # the fault is used up
    http_server.fail("/a.jsonl", 404, count=None)  # until cleared
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            fs.cat_file(url)
    assert http_server.faults()[0]["status"] == 404
    http_server.clear_faults()
    http_server.fail("/a.jsonl", 403, count=1, methods=["GET"])
    with pytest.raises(Exception, match="403"):
        fs.cat_file(url)
    assert fs.cat_file(url) == BODY
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{http_server.url}/missing.jsonl")
    assert [e["status"] for e in http_server.log() if e["method"] == "GET"] == [503, 503, 200, 404, 404, 403, 200, 404]
    logged = [json.loads(line) for line in (http_server.root.parent / "http-requests.jsonl").read_text().splitlines()]
    assert logged == http_server.log()
    http_server.clear_log()
    assert http_server.log() == []


@pytest.mark.parametrize("rst", [False, True], ids=["close", "reset"])
def test_http_drop_mid_body_then_recover(http_server: HttpFileServer, rst: bool) -> None:
    (http_server.root / "a.jsonl").write_bytes(BODY)
    url = f"{http_server.url}/a.jsonl"
    http_server.drop("/a.jsonl", after_bytes=4000, count=2, rst=rst)
    fs = fsspec.filesystem("http")
    for _ in range(2):
        with pytest.raises(Exception):  # aiohttp: payload not completed / connection reset
            fs.cat_file(url)
    assert fs.cat_file(url) == BODY
    gets = [(e["status"], e["bytes"]) for e in http_server.log() if e["method"] == "GET"]
    assert gets == [(200, 4000), (200, 4000), (200, len(BODY))]


def test_http_delay_fault_times_a_client_out(http_server: HttpFileServer) -> None:
    import zstandard

    (http_server.root / "a.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(BODY))
    url = f"{http_server.url}/a.jsonl.zst"
    http_server.delay("/a.jsonl.zst", 1.0, count=1)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(url, timeout=0.2).read()
    with fsspec.open(url, "rt", compression="zstd") as f:
        assert f.readlines() == LINES
    deadline = time.monotonic() + 5  # the stalled request is logged when it ends, after the others
    while not any(e["fault"] for e in http_server.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    stalled = [e for e in http_server.log() if e["fault"]]
    assert [(e["fault"]["delay"], e["method"], e["error"].split(":")[0]) for e in stalled] == [(1.0, "GET", "client went away")]
    assert min(e["time"] for e in http_server.log()) == stalled[0]["time"]  # "time" is when it arrived


def test_http_bad_control_requests_and_stop_by_pid(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    server = HttpFileServer(tmp_path / "www").start()
    req = urllib.request.Request(server.url + "/_faults", data=b'{"path": "a"}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 400 and "starting with" in json.loads(err.value.read())["error"]
    with pytest.raises(urllib.error.HTTPError) as err:  # no escaping the root
        urllib.request.urlopen(server.url + "/../../etc/passwd")
    assert err.value.code == 404
    pid = server.pid
    server.stop()
    assert server.proc is not None and server.proc.returncode == 0  # SIGTERM: a clean exit
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass


# ================================================================ S3 (moto)


def test_s3_s3fs_info_etag_and_env_only_configuration(s3: Bucket) -> None:
    import s3fs

    fs = s3fs.S3FileSystem()  # endpoint and keys from the environment the fixture set
    with fs.open(f"{s3.name}/in/a.jsonl", "wb") as f:
        f.write(BODY)
    info = fs.info(f"{s3.name}/in/a.jsonl")
    assert info["size"] == len(BODY)
    assert info["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'  # single-part upload: the MD5
    assert info["LastModified"] is not None
    fs.pipe_file(f"{s3.name}/in/a.jsonl", BODY + b"\n")
    fs.invalidate_cache()
    assert fs.info(f"{s3.name}/in/a.jsonl")["ETag"] != info["ETag"]
    fs.pipe_file(f"{s3.name}/in/b.jsonl.gz", gzip.compress(BODY))
    assert sorted(fs.glob(f"{s3.name}/in/*.jsonl*")) == [f"{s3.name}/in/a.jsonl", f"{s3.name}/in/b.jsonl.gz"]
    with fsspec.open(f"{s3.url}/in/b.jsonl.gz", "rt", compression="gzip") as f:
        assert f.readlines() == LINES
    assert s3.listing("in/")["in/b.jsonl.gz"]["size"] == len(gzip.compress(BODY))
    # a subprocess (a `curate run` or a Dask worker) reaches the same bucket through the environment alone
    code = "import s3fs; print(sorted(s3fs.S3FileSystem().ls('curate-test/in')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == str(["curate-test/in/a.jsonl", "curate-test/in/b.jsonl.gz"])


def test_s3_conditional_writes(s3: Bucket) -> None:
    """What a lease lock on a bucket can rely on in moto: create-if-absent and compare-and-swap."""
    from botocore.exceptions import ClientError

    first = s3.s3.put_object(Bucket=s3.name, Key="lock.json", Body=b"owner-1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as err:
        s3.s3.put_object(Bucket=s3.name, Key="lock.json", Body=b"owner-2", IfNoneMatch="*")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    second = s3.s3.put_object(Bucket=s3.name, Key="lock.json", Body=b"owner-1 renewed", IfMatch=first)["ETag"]
    with pytest.raises(ClientError) as err:  # the ETag moved on: a stale holder cannot overwrite
        s3.s3.put_object(Bucket=s3.name, Key="lock.json", Body=b"owner-3", IfMatch=first)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get("lock.json") == b"owner-1 renewed" and second != first
    with pytest.raises(ClientError) as err:  # a conditional read is there too
        s3.s3.get_object(Bucket=s3.name, Key="lock.json", IfMatch=first)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    # the same through s3fs: exclusive create is FileExistsError, a stale IfMatch an OSError (EINVAL)
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.pipe_file(f"{s3.name}/lease", b"a", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{s3.name}/lease", b"b", mode="create")
    with pytest.raises(FileExistsError), fs.open(f"{s3.name}/lease", "xb") as f:
        f.write(b"c")
    etag = fs.info(f"{s3.name}/lease")["ETag"]
    fs.pipe_file(f"{s3.name}/lease", b"d", IfMatch=etag)
    with pytest.raises(OSError):
        fs.pipe_file(f"{s3.name}/lease", b"e", IfMatch=etag)
    assert fs.cat_file(f"{s3.name}/lease") == b"d"


def test_s3_watch_polls_while_a_writer_runs(s3: Bucket) -> None:
    with s3.watch(read=["manifest.json"], prefix="run/", interval=0.01) as snaps:
        for i in range(5):
            s3.put(f"run/shard-{i}.parquet", b"x" * i)
        s3.put("run/manifest.json", json.dumps({"files": [f"shard-{i}.parquet" for i in range(5)]}).encode())
    for snap in snaps:  # the property a commit-protocol test checks: a manifest names only listed files
        if snap["read"]["manifest.json"] is not None:
            assert {f"run/{f}" for f in json.loads(snap["read"]["manifest.json"])["files"]} <= set(snap["listing"])
    assert [s["time"] for s in snaps] == sorted(s["time"] for s in snaps)
    last = snaps[-1]
    assert json.loads(last["read"]["manifest.json"])["files"] == [f"shard-{i}.parquet" for i in range(5)]
    assert set(last["listing"]) == {f"run/shard-{i}.parquet" for i in range(5)} | {"run/manifest.json"}
    assert last["listing"]["run/shard-3.parquet"]["size"] == 3


# ================================================================ Hub stand-in


REPO = "org/corpus"


def _seed(hub: HubProcess) -> tuple[str, dict[str, bytes]]:
    files = {
        "data/en/part-0.jsonl": BODY,
        "data/en/part-1.jsonl": BODY[: len(BODY) // 2],
        "data/zh/part-0.jsonl.gz": gzip.compress(BODY),
        "README.md": b"---\nlicense: cc-by-4.0\n---\n# corpus\n",
    }
    return hub.commit(REPO, files), files


def test_hub_dataset_info_and_tree_at_a_pinned_sha(hub_server: HubProcess) -> None:
    from huggingface_hub import HfApi

    sha, files = _seed(hub_server)
    api = HfApi()
    info = api.dataset_info(REPO, revision=sha, files_metadata=True)
    assert info.sha == sha and len(sha) == 40
    sib = {s.rfilename: s for s in info.siblings}
    assert set(sib) == set(files) | {".gitattributes"}
    assert sib["data/en/part-0.jsonl"].size == len(BODY) and sib["data/en/part-0.jsonl"].lfs is None
    assert sib["data/zh/part-0.jsonl.gz"].lfs.sha256 == _sha(files["data/zh/part-0.jsonl.gz"])
    assert api.dataset_info(REPO).sha == sha  # main
    tree = {e.path: e for e in api.list_repo_tree(REPO, repo_type="dataset", revision=sha, recursive=True, expand=True)}
    assert {p for p, e in tree.items() if e.__class__.__name__ == "RepoFile"} == set(files) | {".gitattributes"}
    assert {"data", "data/en", "data/zh"} <= set(tree)
    en0, zh0 = tree["data/en/part-0.jsonl"], tree["data/zh/part-0.jsonl.gz"]
    assert en0.blob_id == hashlib.sha1(b"blob %d\0" % len(BODY) + BODY).hexdigest() and en0.size == len(BODY)
    assert zh0.lfs is not None and zh0.lfs.sha256 == _sha(files["data/zh/part-0.jsonl.gz"])
    assert en0.last_commit is not None and en0.last_commit.oid == sha
    paths = api.get_paths_info(REPO, ["data/en/part-1.jsonl", "data/zh", "nope"], repo_type="dataset", revision=sha)
    assert [(p.path, type(p).__name__) for p in paths] == [("data/en/part-1.jsonl", "RepoFile"), ("data/zh", "RepoFolder")]
    assert hub_server.unknown() == []


def test_hub_filesystem_ls_glob_info_open_and_range(hub_server: HubProcess) -> None:
    from huggingface_hub import HfFileSystem, get_hf_file_metadata, hf_hub_url

    sha, files = _seed(hub_server)
    fs = HfFileSystem()
    root = f"datasets/{REPO}@{sha}"
    assert sorted(fs.ls(f"{root}/data/en", detail=False)) == [f"{root}/data/en/part-0.jsonl", f"{root}/data/en/part-1.jsonl"]
    assert sorted(fs.glob(f"hf://{root}/data/**/*.jsonl*")) == [f"{root}/data/en/part-0.jsonl", f"{root}/data/en/part-1.jsonl", f"{root}/data/zh/part-0.jsonl.gz"]
    info = fs.info(f"{root}/data/zh/part-0.jsonl.gz")
    assert info["size"] == len(files["data/zh/part-0.jsonl.gz"]) and info["lfs"]["sha256"] == _sha(files["data/zh/part-0.jsonl.gz"])
    assert fs.info(f"{root}/data/en/part-0.jsonl")["blob_id"] == hashlib.sha1(b"blob %d\0" % len(BODY) + BODY).hexdigest()
    with fs.open(f"{root}/data/en/part-0.jsonl", "rb", block_size=1024) as f:
        f.seek(3000)
        assert f.read(500) == BODY[3000:3500]
    with fsspec.open(f"hf://{root}/data/zh/part-0.jsonl.gz", "rt", compression="gzip") as f:
        assert f.readlines() == LINES
    assert fs.cat_file(f"{root}/data/en/part-1.jsonl") == files["data/en/part-1.jsonl"]
    meta = get_hf_file_metadata(hf_hub_url(REPO, "data/zh/part-0.jsonl.gz", repo_type="dataset", revision=sha))
    assert (meta.commit_hash, meta.etag, meta.size) == (sha, _sha(files["data/zh/part-0.jsonl.gz"]), len(files["data/zh/part-0.jsonl.gz"]))
    with pytest.raises(FileNotFoundError):
        fs.info(f"{root}/data/en/missing.jsonl")
    assert hub_server.unknown() == []


def test_hub_new_commit_changes_one_file_and_old_sha_still_reads(hub_server: HubProcess) -> None:
    from huggingface_hub import HfApi, HfFileSystem

    old, files = _seed(hub_server)
    changed = BODY.replace(b"document 3 ", b"document 9 ")
    new = hub_server.commit(REPO, {"data/en/part-1.jsonl": changed, "data/en/part-2.jsonl": BODY}, delete=["data/en/part-0.jsonl"])
    assert new != old
    api = HfApi()

    def blobs(rev: str) -> dict[str, str]:
        return {e.path: e.blob_id for e in api.list_repo_tree(REPO, repo_type="dataset", revision=rev, recursive=True) if hasattr(e, "blob_id")}

    before, after = blobs(old), blobs(new)
    assert set(before) - set(after) == {"data/en/part-0.jsonl"} and set(after) - set(before) == {"data/en/part-2.jsonl"}
    assert [p for p in before.keys() & after.keys() if before[p] != after[p]] == ["data/en/part-1.jsonl"]
    assert api.dataset_info(REPO).sha == new
    fs = HfFileSystem()
    assert fs.cat_file(f"datasets/{REPO}@{old}/data/en/part-1.jsonl") == files["data/en/part-1.jsonl"]
    assert fs.cat_file(f"datasets/{REPO}@{new}/data/en/part-1.jsonl") == changed
    assert fs.cat_file(f"datasets/{REPO}/data/en/part-1.jsonl") == changed  # main
    with pytest.raises(Exception, match="(?i)revision"):
        api.dataset_info(REPO, revision="f" * 40)
    # a subprocess (a `curate run`) reaches the stand-in through the environment alone
    code = f"from huggingface_hub import HfFileSystem; print(HfFileSystem().info('datasets/{REPO}@{new}/data/en/part-2.jsonl')['size'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == str(len(BODY))
    assert hub_server.unknown() == []
