"""s3cmd with the configuration `s3cmd --configure` writes (`bucket_location = US`):
it signs every request for the legacy region `US`, which Cairn takes as us-east-1.
s3cmd is installed by tests/compat/install.sh; without it these tests fail (never skip)."""

from __future__ import annotations

import shutil
import subprocess

from compat_helpers import *  # noqa: F401,F403


def s3cmd(config, *args):
    binary = shutil.which("s3cmd")
    if binary is None:
        pytest.fail("s3cmd is not installed: run tests/compat/install.sh")
    done = subprocess.run([binary, "-c", str(config), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"s3cmd {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def s3cmd_config(tmp_path):
    config = tmp_path / "s3cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {ACCESS_KEY}\n"
        f"secret_key = {SECRET_KEY}\n"
        f"host_base = {HOST_HEADER}\n"
        f"host_bucket = {HOST_HEADER}\n"
        "bucket_location = US\n"
        "use_https = False\n"
        "signature_v2 = False\n"
    )
    return config


def test_s3cmd_with_bucket_location_us_round_trips(s3, s3cmd_config, tmp_path):
    bucket = unique_bucket("s3cmd")
    source = tmp_path / "source.bin"
    data = rand(3 * MiB + 17)
    source.write_bytes(data)
    s3cmd(s3cmd_config, "mb", f"s3://{bucket}")
    try:
        s3cmd(s3cmd_config, "put", str(source), f"s3://{bucket}/dir/object.bin")
        assert "dir/object.bin" in s3cmd(s3cmd_config, "ls", "--recursive", f"s3://{bucket}")
        target = tmp_path / "target.bin"
        s3cmd(s3cmd_config, "get", f"s3://{bucket}/dir/object.bin", str(target))
        assert target.read_bytes() == data
        assert get_body(s3, bucket, "dir/object.bin") == data
        s3cmd(s3cmd_config, "del", f"s3://{bucket}/dir/object.bin")
    finally:
        empty_and_delete_bucket(s3, bucket)
