// Mermaid diagrams at their natural size. sphinxcontrib-mermaid stretches every diagram to the
// column's width (tiny ones blown up, large ones shrunk to unreadable text); here each diagram is
// drawn at most at its natural size and shrunk to no less than 70 % of it (text of about 11 px),
// scrolling sideways where the column is narrower than that.
(() => {
  const MIN_SCALE = 0.7;
  const size = (svg) => {
    const box = svg.viewBox && svg.viewBox.baseVal;
    if (!box || !box.width || svg.dataset.sized) return;
    svg.style.setProperty("width", `${box.width}px`, "important");
    svg.style.setProperty("max-width", "100%", "important");
    svg.style.setProperty("min-width", `${MIN_SCALE * box.width}px`, "important");
    svg.dataset.sized = "true";
  };
  const sizeAll = () => document.querySelectorAll("pre.mermaid > svg").forEach(size);
  new MutationObserver(sizeAll).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", sizeAll);
})();
