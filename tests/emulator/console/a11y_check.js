// An axe-style pass over the page as rendered (axe-core is not available offline): returns
// a list of problems, empty when the page passes. Checks: page language and title, one h1
// and one main landmark, an accessible name for every link, button, form field and scrolling
// region, header cells with a scope, and WCAG AA text contrast (4.5:1, 3:1 for large text)
// against the background actually behind the text.
() => {
  const problems = [];
  const where = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") +
    ' "' + (e.textContent || "").trim().slice(0, 40) + '"';
  const visible = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";

  if (!document.documentElement.lang) problems.push("html has no lang");
  if (!document.title.trim()) problems.push("the page has no title");
  if (document.querySelectorAll("h1").length !== 1) problems.push("the page needs exactly one h1");
  if (document.querySelectorAll("main").length !== 1) problems.push("the page needs one main");

  const name = e => {
    const labelled = e.getAttribute("aria-labelledby");
    if (labelled) return labelled.split(" ").map(id => document.getElementById(id)?.textContent || "").join(" ").trim();
    if (e.getAttribute("aria-label")) return e.getAttribute("aria-label").trim();
    if (e.id) {
      const label = document.querySelector(`label[for="${CSS.escape(e.id)}"]`);
      if (label) return label.textContent.trim();
    }
    if (e.closest("label")) return e.closest("label").textContent.trim();
    if (e.tagName === "INPUT" && ["submit", "button"].includes(e.type)) return (e.value || "").trim();
    return (e.textContent || e.getAttribute("title") || "").trim();
  };
  const named = "a[href], button, input:not([type=hidden]), select, textarea, [role=region], [tabindex]:not(main)";
  for (const e of document.querySelectorAll(named)) {
    if (visible(e) && !name(e)) problems.push("no accessible name: " + where(e));
  }
  for (const th of document.querySelectorAll("th")) {
    if (!th.getAttribute("scope")) problems.push("header cell without scope: " + where(th));
  }

  const rgba = text => {
    const parts = text.match(/[\d.]+/g).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a), g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a), a: 1,
  });
  const background = e => {
    const layers = [];
    for (let up = e; up; up = up.parentElement) {
      const colour = rgba(getComputedStyle(up).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a === 1) break;
    }
    return layers.reverse().reduce((below, top) => over(top, below), { r: 255, g: 255, b: 255, a: 1 });
  };
  const luminance = c => {
    const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  };
  for (const e of document.querySelectorAll("body *")) {
    const text = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
    if (!text || !visible(e)) continue;
    const style = getComputedStyle(e);
    const behind = background(e);
    const ink = over(rgba(style.color), behind);
    const [light, dark] = [luminance(ink), luminance(behind)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}: ${where(e)}`);
  }
  return problems;
}
