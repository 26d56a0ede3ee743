// Seeds the demo project through the admin API once `wrangler dev` answers, then prints how to
// try it. Idempotent: re-uploading the same bytes is accepted, the plan is simply rewritten.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";

const base = process.env.FOTA_URL ?? "http://127.0.0.1:8787";
const token = readFileSync(".dev.vars", "utf8").match(/^ADMIN_TOKEN=(.*)$/m)?.[1]?.trim();
const project = "demo";
const firmware = "fotademo_LuatOS-SoC_Air780EHV";
const target = "2018.1.10";

// A deterministic 64 KiB demo image, so its digests are the same on every machine.
const image = Buffer.alloc(64 * 1024);
let x = 0x12345678;
for (let i = 0; i < image.length; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  image[i] = x >>> 24;
}
image.write("FOTA-DEMO-IMAGE " + target, 0);

async function waitUp() {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer on ${base} within 60 s`);
}

async function admin(method, path, body, headers = {}) {
  const res = await fetch(`${base}/admin/v1${path}`, {
    method,
    body,
    headers: { Authorization: `Bearer ${token}`, ...headers },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

await waitUp();
await admin("PUT", `/projects/${project}`, JSON.stringify({ name: "Demo fleet" }));
const sha = createHash("sha256").update(image).digest("hex");
const receipt = await admin("PUT", `/projects/${project}/firmware/${firmware}/${target}`, image, {
  "X-Content-SHA256": sha,
});
// A demo fleet the operator registered (so a rollout trusts it) and that checked in before the
// release (no plan yet, so nothing is offered). Ids that are not registered are served but
// counted apart (`unverified`). Registering again only reports the ids as registered already.
const fleet = Array.from({ length: 5 }, (_, n) => String(862419074072389n + BigInt(n)));
await admin("POST", `/projects/${project}/devices`, JSON.stringify({ devices: fleet, protocol: "luat" }));
for (const imei of fleet) {
  await (await fetch(`${base}/api/site/firmware_upgrade?imei=${imei}&project_key=${project}&firmware_name=${firmware}&version=2018.1.3`)).text();
}
await admin("PUT", `/projects/${project}/plans/${firmware}`, JSON.stringify({ target_version: target }));

const check = `${base}/api/site/firmware_upgrade?imei=862419074072389&project_key=${project}&firmware_name=${firmware}`;
console.log(`
fota-edge is running on ${base}  (admin token in .dev.vars)
demo project "${project}": ${firmware} -> ${target} (${receipt.size} bytes, sha256 ${receipt.sha256.slice(0, 16)}...)

  an old device gets the image:   curl -sD- -o image.bin '${check}&version=2018.1.3'
  an up-to-date one does not:     curl -s '${check}&version=${target}'
  the fleet (5 demo devices):     curl -s -H "Authorization: Bearer $(grep ADMIN_TOKEN .dev.vars | cut -d= -f2)" ${base}/admin/v1/projects/${project}/devices
  the terminal app:               cargo run -p fota-tui --bin fota
`);
