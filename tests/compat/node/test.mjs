// Cairn compatibility tests with the AWS SDK for JavaScript v3.
//
//   cd tests/compat/node && npm ci && \
//   CAIRN_ENDPOINT=http://127.0.0.1:9000 CAIRN_ACCESS_KEY=... CAIRN_SECRET_KEY=... node --test test.mjs
//
// The client is configured exactly like the reference application does it. Current SDKs compute
// a CRC32 for every upload by default (requestChecksumCalculation = WHEN_SUPPORTED): Buffer/string
// bodies get an x-amz-checksum-crc32 header, stream bodies are sent as aws-chunked
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with the checksum in an HTTP trailer.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  S3Client,
  CreateBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  DeleteBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

const endpoint = process.env.CAIRN_ENDPOINT;
const accessKeyId = process.env.CAIRN_ACCESS_KEY;
const secretAccessKey = process.env.CAIRN_SECRET_KEY;
if (!endpoint || !accessKeyId || !secretAccessKey) {
  throw new Error('CAIRN_ENDPOINT, CAIRN_ACCESS_KEY and CAIRN_SECRET_KEY must be set (tests/compat/run.sh sets them)');
}

// Exactly the reference application's configuration.
const s3 = new S3Client({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId, secretAccessKey },
  forcePathStyle: true,
});

const MiB = 1024 * 1024;
const bucket = `cairn-node-${randomBytes(6).toString('hex')}`;

const md5 = (buf) => createHash('md5').update(buf).digest('hex');
const quoted = (hex) => `"${hex}"`;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32b64(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

async function bytesOf(key, extra = {}) {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return { res, body: Buffer.from(await res.Body.transformToByteArray()) };
}

async function listKeys(prefix) {
  const keys = [];
  let ContinuationToken;
  for (let i = 0; i < 100; i++) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
    for (const o of page.Contents ?? []) keys.push(o.Key);
    if (!page.IsTruncated) break;
    ContinuationToken = page.NextContinuationToken;
  }
  return keys;
}

async function expectStatus(promise, status, name) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.$metadata?.httpStatusCode, status, `expected HTTP ${status}, got ${e.$metadata?.httpStatusCode} (${e.name}: ${e.message})`);
    if (name) assert.equal(e.name, name);
    return true;
  });
}

// Split a buffer into a stream of uneven chunks (like a file or network source would produce).
function streamOf(buf, sizes = [65536, 1, 100000, 8191]) {
  const chunks = [];
  for (let off = 0, i = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length];
    chunks.push(buf.subarray(off, off + n));
    off += n;
  }
  return Readable.from(chunks);
}

before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  try {
    const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of ups.Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId })).catch(() => {});
    }
    const keys = await listKeys();
    for (let i = 0; i < keys.length; i += 1000) {
      await s3.send(new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (e) {
    console.error('cleanup failed:', e);
  } finally {
    s3.destroy();
  }
});

test('CreateBucket / HeadBucket / ListBuckets', async () => {
  const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  assert.equal(head.$metadata.httpStatusCode, 200);
  const list = await s3.send(new ListBucketsCommand({}));
  assert.ok(list.Buckets.some((b) => b.Name === bucket), 'bucket not listed');
  await expectStatus(s3.send(new CreateBucketCommand({ Bucket: bucket })), 409, 'BucketAlreadyOwnedByYou');
  await expectStatus(s3.send(new HeadBucketCommand({ Bucket: `${bucket}-missing` })), 404);
});

test('PutObject string body + GetObject', async () => {
  const text = 'hello from node — ünïcödé ✓\n';
  const put = await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'str/hello.txt', Body: text,
    ContentType: 'text/plain; charset=utf-8', Metadata: { author: 'node' },
  }));
  assert.equal(put.ETag, quoted(md5(Buffer.from(text))));
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'str/hello.txt' }));
  assert.equal(await res.Body.transformToString(), text);
  assert.equal(res.ContentType, 'text/plain; charset=utf-8');
  assert.deepEqual(res.Metadata, { author: 'node' });
  assert.equal(res.ContentLength, Buffer.byteLength(text));
});

test('PutObject 3 MiB Buffer + GetObject transformToByteArray', async () => {
  const data = randomBytes(3 * MiB);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'buf/3mib.bin', Body: data }));
  assert.equal(put.ETag, quoted(md5(data)));
  const { res, body } = await bytesOf('buf/3mib.bin');
  assert.equal(res.ContentLength, data.length);
  assert.ok(body.equals(data), 'downloaded bytes differ');
  const ranged = await bytesOf('buf/3mib.bin', { Range: `bytes=${MiB - 5}-${MiB + 4}` });
  assert.equal(ranged.res.ContentRange, `bytes ${MiB - 5}-${MiB + 4}/${data.length}`);
  assert.ok(ranged.body.equals(data.subarray(MiB - 5, MiB + 5)));
});

test('SSE-S3 and SSE-C (run.sh gives the server a master key)', async () => {
  const data = randomBytes(2 * MiB + 3);
  const put = await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'sse/s3.bin', Body: data, ServerSideEncryption: 'AES256',
  }));
  assert.equal(put.ServerSideEncryption, 'AES256');
  const sealed = await bytesOf('sse/s3.bin', { Range: `bytes=${64 * 1024 - 5}-${64 * 1024 + 4}` });
  assert.equal(sealed.res.ServerSideEncryption, 'AES256');
  assert.ok(sealed.body.equals(data.subarray(64 * 1024 - 5, 64 * 1024 + 5)));
  const key = randomBytes(32);
  const sseC = {
    SSECustomerAlgorithm: 'AES256',
    SSECustomerKey: key.toString('base64'),
    SSECustomerKeyMD5: createHash('md5').update(key).digest('base64'),
  };
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sse/c.bin', Body: data, ...sseC }));
  const opened = await bytesOf('sse/c.bin', sseC);
  assert.ok(opened.body.equals(data), 'SSE-C bytes differ');
  await expectStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sse/c.bin' })), 400);
});

test('HeadObject', async () => {
  const data = randomBytes(1234);
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'head/obj', Body: data, ContentType: 'application/x-node',
    Metadata: { 'Mixed-Case': 'v' }, CacheControl: 'no-store',
  }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'head/obj' }));
  assert.equal(head.ContentLength, 1234);
  assert.equal(head.ETag, quoted(md5(data)));
  assert.equal(head.ContentType, 'application/x-node');
  assert.equal(head.CacheControl, 'no-store');
  assert.deepEqual(head.Metadata, { 'mixed-case': 'v' });
  assert.ok(head.LastModified instanceof Date && Math.abs(head.LastModified - Date.now()) < 5 * 60 * 1000);
  await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'head/missing' })), 404, 'NotFound');
  await expectStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'head/missing' })), 404, 'NoSuchKey');
});

test('ListObjectsV2 with prefix and delimiter', async () => {
  const keys = ['ls/a.txt', 'ls/b.txt', 'ls/sub/c.txt', 'ls/sub/deeper/d.txt', 'ls/zz/e.txt', 'lsx'];
  await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
  const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ls/', Delimiter: '/' }));
  assert.deepEqual((res.Contents ?? []).map((o) => o.Key), ['ls/a.txt', 'ls/b.txt']);
  assert.deepEqual((res.CommonPrefixes ?? []).map((p) => p.Prefix), ['ls/sub/', 'ls/zz/']);
  assert.equal(res.KeyCount, 4);
  assert.equal(res.Contents[0].Size, 'ls/a.txt'.length);
  assert.equal(res.Contents[0].ETag, quoted(md5(Buffer.from('ls/a.txt'))));
  const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ls' }));
  assert.deepEqual(all.Contents.map((o) => o.Key), [...keys].sort());
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ls/', MaxKeys: 2 }));
  assert.equal(page.IsTruncated, true);
  assert.deepEqual(page.Contents.map((o) => o.Key), ['ls/a.txt', 'ls/b.txt']);
  const next = await s3.send(new ListObjectsV2Command({
    Bucket: bucket, Prefix: 'ls/', MaxKeys: 10, ContinuationToken: page.NextContinuationToken,
  }));
  assert.deepEqual(next.Contents.map((o) => o.Key), ['ls/sub/c.txt', 'ls/sub/deeper/d.txt', 'ls/zz/e.txt']);
  assert.equal(next.IsTruncated, false);
});

test('CopyObject', async () => {
  const src = 'copy/src ü+&.bin';
  const data = randomBytes(50000);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: src, Body: data, Metadata: { k: 'v' } }));
  const res = await s3.send(new CopyObjectCommand({
    Bucket: bucket, Key: 'copy/dst.bin', CopySource: `${bucket}/${encodeURIComponent(src)}`,
  }));
  assert.equal(res.CopyObjectResult.ETag, quoted(md5(data)));
  const { res: got, body } = await bytesOf('copy/dst.bin');
  assert.ok(body.equals(data));
  assert.deepEqual(got.Metadata, { k: 'v' });
  await s3.send(new CopyObjectCommand({
    Bucket: bucket, Key: 'copy/replaced.bin', CopySource: `${bucket}/${encodeURIComponent(src)}`,
    MetadataDirective: 'REPLACE', Metadata: { other: 'x' }, ContentType: 'text/x-replaced',
  }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy/replaced.bin' }));
  assert.deepEqual(head.Metadata, { other: 'x' });
  assert.equal(head.ContentType, 'text/x-replaced');
});

test('DeleteObject', async () => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'del/one', Body: 'x' }));
  const res = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del/one' }));
  assert.equal(res.$metadata.httpStatusCode, 204);
  await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'del/one' })), 404);
  // deleting again is fine
  const again = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del/one' }));
  assert.equal(again.$metadata.httpStatusCode, 204);
});

test('DeleteObjects', async () => {
  const keys = ['dels/a', 'dels/b', 'dels/c d', 'dels/ü'];
  await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }))));
  const res = await s3.send(new DeleteObjectsCommand({
    Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) },
  }));
  assert.deepEqual((res.Deleted ?? []).map((d) => d.Key).sort(), [...keys].sort());
  assert.equal((res.Errors ?? []).length, 0);
  assert.deepEqual(await listKeys('dels/'), []);
});

test('multipart upload (Buffer part + stream part)', async () => {
  const Key = 'mp/object.bin';
  const part1 = randomBytes(5 * MiB);
  const part2 = randomBytes(5 * MiB);
  const part3 = randomBytes(777777);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ContentType: 'application/x-mp' }));
  assert.ok(UploadId);
  const r1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 1, Body: part1 }));
  assert.equal(r1.ETag, quoted(md5(part1)));
  // stream body -> aws-chunked with a CRC32 trailer
  const r2 = await s3.send(new UploadPartCommand({
    Bucket: bucket, Key, UploadId, PartNumber: 2, Body: streamOf(part2), ContentLength: part2.length,
  }));
  assert.equal(r2.ETag, quoted(md5(part2)));
  const r3 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 3, Body: part3 }));
  const done = await s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key, UploadId,
    MultipartUpload: { Parts: [r1, r2, r3].map((r, i) => ({ ETag: r.ETag, PartNumber: i + 1 })) },
  }));
  const expected = md5(Buffer.concat([part1, part2, part3].map((p) => createHash('md5').update(p).digest())));
  assert.equal(done.ETag, quoted(`${expected}-3`));
  const { res, body } = await bytesOf(Key);
  assert.equal(res.ContentType, 'application/x-mp');
  assert.equal(res.ContentLength, part1.length + part2.length + part3.length);
  assert.ok(body.equals(Buffer.concat([part1, part2, part3])), 'multipart content differs');
});

test('getSignedUrl GET with fetch', async () => {
  const Key = 'presign/get ü.txt';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'presigned-get' }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key }), { expiresIn: 300 });
  const res = await fetch(url);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(await res.text(), 'presigned-get');
  // tampering with the signed URL is rejected
  const bad = url.replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000');
  const denied = await fetch(bad);
  assert.equal(denied.status, 403);
  assert.match(await denied.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
});

test('getSignedUrl PUT with fetch (checksum of the real body signed into the URL)', async () => {
  const Key = 'presign/put.bin';
  const data = randomBytes(100000);
  const url = await getSignedUrl(s3, new PutObjectCommand({
    Bucket: bucket, Key, ChecksumCRC32: crc32b64(data),
  }), { expiresIn: 300 });
  const res = await fetch(url, { method: 'PUT', body: data });
  assert.equal(res.status, 200, await res.text());
  const { res: got, body } = await bytesOf(Key, { ChecksumMode: 'ENABLED' });
  assert.ok(body.equals(data));
  assert.equal(got.ChecksumCRC32, crc32b64(data));
});

test('getSignedUrl PUT with fetch (default config bakes CRC32 of an empty body into the URL)', async () => {
  // With the default requestChecksumCalculation the presigner signs x-amz-checksum-crc32=AAAAAA==
  // (CRC32 of ""). AWS S3 rejects a non-empty upload through such a URL with a checksum error;
  // an empty upload matches and succeeds.
  const Key = 'presign/put-default.bin';
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key }), { expiresIn: 300 });
  assert.match(url, /x-amz-checksum-crc32=AAAAAA%3D%3D/);
  const bad = await fetch(url, { method: 'PUT', body: 'not empty' });
  assert.equal(bad.status, 400, await bad.clone().text());
  assert.match(await bad.text(), /<Code>(BadDigest|XAmzContentChecksumMismatch|InvalidRequest)<\/Code>/);
  await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key })), 404);
  const ok = await fetch(url, { method: 'PUT', body: '' });
  assert.equal(ok.status, 200, await ok.text());
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key }));
  assert.equal(head.ContentLength, 0);
});

test('PutObject with ChecksumAlgorithm CRC32 (Buffer body: header checksum)', async () => {
  const data = randomBytes(200000);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ck/buffer', Body: data, ChecksumAlgorithm: 'CRC32' }));
  assert.equal(put.ChecksumCRC32, crc32b64(data));
  const { res, body } = await bytesOf('ck/buffer', { ChecksumMode: 'ENABLED' });
  assert.equal(res.ChecksumCRC32, crc32b64(data));
  assert.ok(body.equals(data));
});

test('PutObject with ChecksumAlgorithm CRC32 (stream body: aws-chunked + trailer)', async () => {
  const data = randomBytes(3 * MiB + 12345);
  const put = await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'ck/stream', Body: streamOf(data), ContentLength: data.length,
    ChecksumAlgorithm: 'CRC32', ContentType: 'application/x-streamed',
  }));
  assert.equal(put.ETag, quoted(md5(data)));
  assert.equal(put.ChecksumCRC32, crc32b64(data));
  const { res, body } = await bytesOf('ck/stream', { ChecksumMode: 'ENABLED' });
  assert.equal(res.ContentLength, data.length);
  assert.equal(res.ChecksumCRC32, crc32b64(data));
  assert.equal(res.ContentType, 'application/x-streamed');
  // "aws-chunked" is a transfer detail and must not be stored as the object's Content-Encoding
  assert.ok(!res.ContentEncoding, `unexpected Content-Encoding ${res.ContentEncoding}`);
  assert.ok(body.equals(data), 'streamed upload content differs');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ck/stream', ChecksumMode: 'ENABLED' }));
  assert.equal(head.ChecksumCRC32, crc32b64(data));
});

test('PutObject stream body without explicit algorithm (SDK default CRC32 trailer)', async () => {
  const data = randomBytes(256 * 1024 + 3);
  const put = await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'ck/default-stream', Body: streamOf(data, [4096, 70000]), ContentLength: data.length,
  }));
  assert.equal(put.ETag, quoted(md5(data)));
  const { body } = await bytesOf('ck/default-stream');
  assert.ok(body.equals(data));
});

test('PutObject with a wrong checksum is rejected', async () => {
  const data = Buffer.from('checksummed body');
  await expectStatus(s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'ck/wrong', Body: data, ChecksumCRC32: crc32b64(Buffer.from('something else')),
  })), 400);
  await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ck/wrong' })), 404);
});

test('wrong credentials are rejected', async () => {
  const bad = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey: `${secretAccessKey}-wrong` },
  });
  try {
    await expectStatus(bad.send(new ListObjectsV2Command({ Bucket: bucket })), 403, 'SignatureDoesNotMatch');
  } finally {
    bad.destroy();
  }
});
