/** A token of SQL text a user wrote inside `sql\`\``, `sql.raw()` or Drizzle's own keywords. */
export type TextToken =
  | { readonly kind: "word"; readonly value: string }
  | { readonly kind: "quoted"; readonly value: string }
  | { readonly kind: "punct"; readonly value: string }
  | { readonly kind: "literal" };

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/**
 * Split SQL text into the tokens that matter for finding relation names: words (lower-cased),
 * quoted identifiers, punctuation, and opaque literals. Comments and whitespace are dropped; string
 * and dollar-quoted literals become one `literal` token so their contents never look like SQL.
 */
export function lexSqlText(text: string): TextToken[] {
  const tokens: TextToken[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") {
      i++;
    } else if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && text[i + 1] === "*") {
      i = skipBlockComment(text, i);
    } else if (c === "'") {
      const escapes =
        i > 0 && (text[i - 1] === "E" || text[i - 1] === "e") && !WORD_PART.test(text[i - 2] ?? " ");
      if (escapes) tokens.pop();
      i = skipQuoted(text, i, "'", escapes);
      tokens.push({ kind: "literal" });
    } else if (c === '"') {
      const end = skipQuoted(text, i, '"', false);
      tokens.push({ kind: "quoted", value: text.slice(i + 1, end - 1).replaceAll('""', '"') });
      i = end;
    } else if (c === "$") {
      const tag = DOLLAR_TAG.exec(text.slice(i));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
        tokens.push({ kind: "literal" });
      } else {
        i++;
      }
    } else if (WORD_START.test(c)) {
      let end = i + 1;
      while (end < n && WORD_PART.test(text[end] as string)) end++;
      tokens.push({ kind: "word", value: text.slice(i, end).toLowerCase() });
      i = end;
    } else if (c >= "0" && c <= "9") {
      let end = i + 1;
      while (end < n && /[0-9.eE_]/.test(text[end] as string)) end++;
      tokens.push({ kind: "literal" });
      i = end;
    } else {
      tokens.push({ kind: "punct", value: c });
      i++;
    }
  }
  return tokens;
}

function skipBlockComment(text: string, start: number): number {
  // PostgreSQL block comments nest.
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text[i] === "/" && text[i + 1] === "*") {
      depth++;
      i += 2;
    } else if (text[i] === "*" && text[i + 1] === "/") {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return text.length;
}

function skipQuoted(text: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (backslashEscapes && c === "\\") {
      i += 2;
    } else if (c === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return text.length;
}
