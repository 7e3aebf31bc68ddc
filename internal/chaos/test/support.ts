export { nextEvent, until } from "@pgcachewatch/testdb";

/** Settle `promise` within `timeoutMs` or report that it hung. */
export function within<T>(
  promise: Promise<T>,
  timeoutMs: number,
): Promise<{ status: "fulfilled"; value: T } | { status: "rejected"; reason: unknown } | { status: "hung" }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ status: "hung" }), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ status: "fulfilled", value });
      },
      (reason: unknown) => {
        clearTimeout(timer);
        resolve({ status: "rejected", reason });
      },
    );
  });
}
