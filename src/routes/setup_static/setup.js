// Copy buttons: each button with data-copy copies the text of the element it names.
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-copy]");
  if (!b) return;
  const el = document.getElementById(b.dataset.copy);
  if (!el || !navigator.clipboard) return;
  navigator.clipboard.writeText(el.textContent.trim()).then(() => {
    b.textContent = "Copied";
    setTimeout(() => { b.textContent = "Copy"; }, 1500);
  });
});

// The connection and the checklist, refreshed every five seconds (the rest of the page,
// the token above all, stays as it is).
const live = document.getElementById("live");
if (live && live.dataset.src) {
  const refresh = () => {
    fetch(live.dataset.src, { credentials: "omit", cache: "no-store" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => { live.innerHTML = html; setTimeout(refresh, 5000); })
      .catch(() => {});
  };
  setTimeout(refresh, 5000);
}
