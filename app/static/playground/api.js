// The service's API, called as any client calls it. Paths are relative, so the page works
// under a reverse proxy's prefix too.

/** An error answer: status, and the service's located messages {loc, msg, type}. */
export class ApiError extends Error {
  constructor(status, detail) {
    const lines = detail.map((d) => {
      const where = (d.loc || []).filter((part) => part !== "body").join(".");
      return where ? `${where}: ${d.msg}` : d.msg;
    });
    super(`HTTP ${status}: ${lines.join("\n")}`);
    this.status = status;
    this.detail = detail;
  }
}

async function answer(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = { detail: [{ loc: [], msg: response.statusText || "no JSON answer", type: "http" }] };
  }
  if (!response.ok) {
    const detail = Array.isArray(body.detail) ? body.detail : [{ loc: [], msg: String(body.detail), type: "http" }];
    throw new ApiError(response.status, detail);
  }
  return body;
}

export async function get(path) {
  return answer(await fetch(path, { headers: { Accept: "application/json" } }));
}

export async function post(path, body) {
  return answer(
    await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }),
  );
}
