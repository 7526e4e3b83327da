"""Weights fingerprints: what a resumed bench compares with its plan."""

from spectool_app.fingerprint import bench_fingerprints, changed_roles, folder_digest


def test_folder_digest_follows_names_and_contents(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"a" * 100)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub").mkdir()  # folders inside are not part of the weights
    first = folder_digest(tmp_path)
    assert first.startswith("sha256:") and first == folder_digest(tmp_path)
    (tmp_path / "sub" / "x").write_text("ignored")
    assert folder_digest(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"a" * 99 + b"b")
    assert folder_digest(tmp_path) != first
    (tmp_path / "model.safetensors").write_bytes(b"a" * 100)
    (tmp_path / "config.json").rename(tmp_path / "other.json")
    assert folder_digest(tmp_path) != first


def test_large_files_are_read_at_both_ends_only(tmp_path):
    size = 3 * 2**20
    data = bytearray(size)
    (tmp_path / "w.bin").write_bytes(bytes(data))
    base = folder_digest(tmp_path, whole_file_limit=2**20)
    data[size // 2] = 1  # the middle: not read when the file is over the limit
    (tmp_path / "w.bin").write_bytes(bytes(data))
    assert folder_digest(tmp_path, whole_file_limit=2**20) == base
    assert folder_digest(tmp_path) != folder_digest(tmp_path, whole_file_limit=2**20)
    data[-1] = 1  # the last MiB: read
    (tmp_path / "w.bin").write_bytes(bytes(data))
    assert folder_digest(tmp_path, whole_file_limit=2**20) != base


class Named:
    def __init__(self, name, source=None):
        self.name, self.source = name, source


def test_bench_fingerprints_per_role(tmp_path):
    weights = tmp_path / "target"
    weights.mkdir()
    (weights / "model.safetensors").write_bytes(b"w")
    prints = bench_fingerprints({"drafter": Named("drafter:hub"), "target": Named("t", str(weights))}, None)
    assert prints == {"drafter": "drafter:hub", "target": folder_digest(weights), "verifier": "absent"}
    # a preset spec (a folder or a hub id) gives what the model loaded from it gives
    specs = bench_fingerprints({"drafter": "Qwen/Qwen3-1.7B", "target": str(weights)}, weights)
    assert specs == {"drafter": "Qwen/Qwen3-1.7B", "target": prints["target"], "verifier": prints["target"]}
    assert changed_roles(prints, specs) == ["drafter", "verifier"]
    assert changed_roles(prints, dict(prints)) == []
    assert changed_roles({"target": "x"}, {}) == ["target"]
    # a hub model loaded in this process and its spec read by a parent that loads nothing agree
    hub = bench_fingerprints({"target": Named("target:Qwen3-8B", "Qwen/Qwen3-8B")}, None)
    assert hub == bench_fingerprints({"target": "Qwen/Qwen3-8B"}, None) == {"target": "Qwen/Qwen3-8B",
                                                                            "verifier": "absent"}
