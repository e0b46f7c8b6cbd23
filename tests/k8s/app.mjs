// The CRM application's storage operations, as the reference deployment's snippet does
// them: @aws-sdk/client-s3 with forcePathStyle against the cairn-api Service, signed
// with the application's key (least privilege on crm-*). Run by statefulset.py inside
// the clients' network namespace; prints one summary line and exits non-zero on the
// first unexpected answer.
import {
  S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, DeleteObjectCommand,
  HeadObjectCommand, CreateBucketCommand, CopyObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const endpoint = process.env.CAIRN_ENDPOINT;
const s3 = new S3Client({
  endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.CRM_ACCESS_KEY, secretAccessKey: process.env.CRM_SECRET_KEY },
});

function check(condition, what) {
  if (!condition) {
    console.error(`app: ${what}`);
    process.exit(1);
  }
}

const quote = `Quote for ACME, ${new Date().toISOString()}\n`.repeat(200);
await s3.send(new PutObjectCommand({ Bucket: "crm-quotes", Key: "2026/acme.txt", Body: quote, ContentType: "text/plain" }));
const got = await s3.send(new GetObjectCommand({ Bucket: "crm-quotes", Key: "2026/acme.txt" }));
check((await got.Body.transformToString()) === quote, "the quote read back differs");
const listed = await s3.send(new ListObjectsV2Command({ Bucket: "crm-quotes", Prefix: "2026/" }));
check(listed.Contents?.some((o) => o.Key === "2026/acme.txt"), "the quote is not listed");
await s3.send(new CopyObjectCommand({ Bucket: "crm-attachments", Key: "acme/quote.txt", CopySource: "crm-quotes/2026/acme.txt" }));
const head = await s3.send(new HeadObjectCommand({ Bucket: "crm-attachments", Key: "acme/quote.txt" }));
check(head.ContentLength === Buffer.byteLength(quote), "the copy has another size");

// A presigned download link, fetched without credentials.
const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: "crm-quotes", Key: "2026/acme.txt" }), { expiresIn: 300 });
const viaLink = await fetch(url);
check(viaLink.status === 200 && (await viaLink.text()) === quote, `presigned GET answered ${viaLink.status}`);

// crm-documents is public read: a plain unsigned GET works; crm-quotes is private.
await s3.send(new PutObjectCommand({ Bucket: "crm-documents", Key: "brochure.txt", Body: "brochure" }));
const open = await fetch(`${endpoint}/crm-documents/brochure.txt`);
check(open.status === 200 && (await open.text()) === "brochure", `anonymous GET of crm-documents answered ${open.status}`);
const closed = await fetch(`${endpoint}/crm-quotes/2026/acme.txt`);
check(closed.status === 403, `anonymous GET of crm-quotes answered ${closed.status}`);

// Least privilege: the application cannot make buckets.
let denied = false;
try {
  await s3.send(new CreateBucketCommand({ Bucket: "not-for-the-app" }));
} catch (error) {
  denied = error.name === "AccessDenied";
}
check(denied, "the application key could create a bucket");

await s3.send(new DeleteObjectCommand({ Bucket: "crm-quotes", Key: "2026/acme.txt" }));
const after = await s3.send(new ListObjectsV2Command({ Bucket: "crm-quotes", Prefix: "2026/" }));
check(!after.Contents?.length, "the deleted quote is still listed");
console.log("app: put, get, list, copy, head, presigned GET, public read, private refusal, least privilege, delete: ok");
