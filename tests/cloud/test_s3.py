"""s3:// URLs against a real S3-compatible server on 127.0.0.1: moto in server mode with its IAM
authentication on, which recomputes every SigV4 signature and refuses wrong ones (checked
below: a wrong secret key gets SignatureDoesNotMatch). The server is started and stopped here
(and stops by itself after 10 minutes).

moto cannot serve presigned URLs while IAM authentication is on (it answers 500), so the
presigned and anonymous cases run with authentication switched off (moto-api/reset-auth); moto
then still refuses anonymous reads of private objects. A server that verifies query-string
signatures is in test_http_auth.py (nginx secure_link).
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import (QUERIES, free_port, assert_no_secret, binding_installed, child_env, command, query,
                      requests_logged)

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

BUCKET = "lab-data"
REGION = "eu-west-3"


class Moto:
    def __init__(self, tmp):
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")
        self.log = open(os.path.join(tmp, "moto.log"), "w")
        self.proc = subprocess.Popen(["timeout", "600", exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.proc.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        # The first 4 requests are not authenticated: make a user with an access key allowed
        # to use S3. Every request after them must be signed with that key.
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        policy = iam.create_policy(PolicyName="s3-all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole", "iam:CreateRole", "iam:AttachRolePolicy"], "Resource": "*"}]}))
        iam.attach_user_policy(UserName="reader", PolicyArn=policy["Policy"]["Arn"])
        self.policy_arn = policy["Policy"]["Arn"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                               aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
                               config=Config(signature_version="s3v4"))

    def auth(self, on):
        """Switches moto's IAM authentication on or off (see the module docs)."""
        n = b"0" if on else b"1000000"
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset-auth", data=n,
                                                      headers={"Content-Type": "text/plain"}), timeout=10).read()

    def stop(self):
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def moto(tmp_path_factory, database):
    gsq, dbi, _ = database
    m = Moto(str(tmp_path_factory.mktemp("moto")))
    try:
        m.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for name in (gsq, dbi):
            m.s3.upload_file(name, BUCKET, "genomes/" + os.path.basename(name))
        # A public object, readable without credentials.
        with open(gsq, "rb") as f:
            m.s3.put_object(Bucket=BUCKET, Key="public/genes.gsq", Body=f, ACL="public-read")
        with open(dbi, "rb") as f:
            m.s3.put_object(Bucket=BUCKET, Key="public/genes.gsq.dbi", Body=f, ACL="public-read")
        yield m
    finally:
        m.stop()


URL = "s3://%s/genomes/genes.gsq" % BUCKET


def signed_env(moto, home, **extra):
    return child_env(home, AWS_ACCESS_KEY_ID=moto.key_id, AWS_SECRET_ACCESS_KEY=moto.secret,
                     AWS_REGION=REGION, AWS_ENDPOINT_URL=moto.endpoint, **extra)


def test_signed_reads_match_the_local_file(moto, database, tmp_path):
    _, _, expected = database
    p = query(URL, {"vfs_log": 3}, env=signed_env(moto, tmp_path))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    n = requests_logged(p.stderr)
    assert n is not None and 1 <= n <= 40, p.stderr
    assert "using .dbi s3://%s/genomes/genes.gsq.dbi" % BUCKET in p.stderr, p.stderr
    print("s3:// signed: %d requests (vfs_log=3 summary)" % n)
    assert_no_secret([p.stdout, p.stderr], [moto.secret])


def test_command_and_binding(moto, database, tmp_path):
    _, _, expected = database
    env = signed_env(moto, tmp_path)
    c = command(URL, QUERIES[0], env)
    assert c.returncode == 0, c.stderr
    assert list(json.loads(c.stdout)[0].values()) == expected[0][0]
    if not binding_installed():
        pytest.skip("the Python binding is not installed in this venv (tests/run.sh installs it)")
    p = query(URL, env=env, mode="connect")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected


def test_c_api(moto, database, tmp_path, open_c):
    """genomicsqlite_open() on s3://: the rows, and on failure the reason in *pzErrMsg."""
    _, _, expected = database
    sql = "SELECT id, n, v FROM t WHERE id = 4321"
    p = subprocess.run([open_c, URL, "{}", sql], capture_output=True, text=True, timeout=60,
                       env=signed_env(moto, tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "|".join(str(v) for v in expected[1][0])
    env = dict(signed_env(moto, tmp_path), AWS_SECRET_ACCESS_KEY="Wr0ngSecretKeyWr0ngSecretKey")
    p = subprocess.run([open_c, URL, '{"vfs_log": 0}', sql], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 1 and "the signature does not match" in p.stderr, p.stderr


def test_session_token_and_configured_endpoint(moto, database, tmp_path):
    """Temporary credentials of an assumed role (AWS_SESSION_TOKEN, sent as x-amz-security-token and
    signed); the endpoint and region from configuration keys instead of the environment."""
    _, _, expected = database
    kw = dict(endpoint_url=moto.endpoint, region_name="us-east-1",
              aws_access_key_id=moto.key_id, aws_secret_access_key=moto.secret)
    iam = boto3.client("iam", **kw)
    role = iam.create_role(RoleName="s3-reader", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]
    iam.attach_role_policy(RoleName="s3-reader", PolicyArn=moto.policy_arn)
    c = boto3.client("sts", **kw).assume_role(RoleArn=role["Arn"], RoleSessionName="test",
                                              DurationSeconds=900)["Credentials"]
    env = child_env(tmp_path, AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
                    AWS_SESSION_TOKEN=c["SessionToken"])
    config = {"web_s3_endpoint": moto.endpoint, "web_s3_region": REGION, "vfs_log": 5}
    p = query(URL, config, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    assert_no_secret([p.stdout, p.stderr], [c["SecretAccessKey"], c["SessionToken"]])
    env["AWS_SESSION_TOKEN"] = "FwoGZXIvYXdzEXAMPLEnotthetoken"
    p = query(URL, config, env=env)
    assert p.returncode == 1 and "session token" in p.stderr, p.stderr


def test_profile_files(moto, database, tmp_path):
    """AWS_PROFILE with ~/.aws/credentials and ~/.aws/config (region, endpoint_url)."""
    _, _, expected = database
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text("[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n"
                                     "[lab]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (moto.key_id, moto.secret))
    (aws / "config").write_text("[profile lab]\nregion = %s\nendpoint_url = %s\n" % (REGION, moto.endpoint))
    p = query(URL, env=child_env(tmp_path, AWS_PROFILE="lab"))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    # The default profile's key is refused by the server, and the message says so.
    p = query(URL, env=child_env(tmp_path, AWS_ENDPOINT_URL=moto.endpoint))
    assert p.returncode == 1 and "access key id is not known" in p.stderr, p.stderr
    p = query(URL, env=child_env(tmp_path, AWS_PROFILE="nosuch"))
    assert p.returncode == 1 and "AWS_PROFILE=nosuch: no such profile" in p.stderr, p.stderr


@pytest.mark.parametrize("case", ["wrong secret", "no credentials", "half credentials", "no such key"])
def test_errors_say_what_is_wrong(moto, tmp_path, case):
    env = signed_env(moto, tmp_path)
    url = URL
    if case == "wrong secret":
        env["AWS_SECRET_ACCESS_KEY"] = "Wr0ngSecretKeyWr0ngSecretKey"
        want = "s3://lab-data/genomes/genes.gsq: the signature does not match"
    elif case == "no credentials":
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        want = "no AWS credentials were found"
    elif case == "half credentials":
        del env["AWS_SECRET_ACCESS_KEY"]
        want = "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    else:
        url = "s3://%s/genomes/missing.gsq" % BUCKET
        want = "s3://lab-data/genomes/missing.gsq: no such key"
    p = query(url, env=env)
    assert p.returncode == 1, p.stdout
    assert want in p.stderr, p.stderr
    assert p.elapsed < 20, "took %.1f s" % p.elapsed
    assert_no_secret([p.stderr], [moto.secret, "Wr0ngSecretKey"])


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4, 5])
def test_no_secret_in_logs(moto, tmp_path, level):
    token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
    env = signed_env(moto, tmp_path, SQLITE_WEB_LOG=level, AWS_SESSION_TOKEN=token)
    p = query(URL, {"vfs_log": level}, env=env)
    # moto refuses the made-up session token; what matters is what we print, success or not.
    assert_no_secret([p.stdout, p.stderr], [moto.secret, token])
    env = signed_env(moto, tmp_path, SQLITE_WEB_LOG=level)
    p = query(URL, {"vfs_log": level}, env=env)
    assert p.returncode == 0, p.stderr
    assert_no_secret([p.stdout, p.stderr], [moto.secret])


def test_presigned_urls_with_presigned_dbi(moto, database, tmp_path):
    _, _, expected = database
    moto.auth(False)
    try:
        url = moto.s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "genomes/genes.gsq"}, ExpiresIn=600)
        dbi = moto.s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "genomes/genes.gsq.dbi"}, ExpiresIn=600)
        assert "X-Amz-Signature=" in url
        signature = url.split("X-Amz-Signature=")[1][:20]
        p = query(url, {"web_dbi_url": dbi, "vfs_log": 3}, env=child_env(tmp_path))
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == expected
        assert "using .dbi" in p.stderr, p.stderr
        assert_no_secret([p.stdout, p.stderr], [signature, moto.secret])
        # Anonymous access: a public object reads without credentials, a private one does not.
        p = query("s3://%s/public/genes.gsq" % BUCKET, env=child_env(tmp_path, AWS_ENDPOINT_URL=moto.endpoint))
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == expected
        p = query(URL, env=child_env(tmp_path, AWS_ENDPOINT_URL=moto.endpoint))
        assert p.returncode == 1 and "no AWS credentials were found" in p.stderr, p.stderr
    finally:
        moto.auth(True)
