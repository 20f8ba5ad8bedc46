// Miaohui pages work without JavaScript; this file only adds small comforts.
// Forms marked data-confirm ask before they submit.
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});
