// offboard console: keeps the operator's admin token in this tab's session storage (never a
// cookie), adds it to every request htmx makes, and asks for it when it is missing or
// refused. Everything else is server-rendered HTML.
(function () {
  "use strict";
  var KEY = "offboard.admin_token";

  // `offboard console-link` puts the token in the URL fragment, which no server sees;
  // it is moved to session storage and removed from the address bar and history.
  var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function token() {
    return sessionStorage.getItem(KEY);
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function showSignIn(message) {
    byId("main").hidden = true;
    byId("sign-out").hidden = true;
    byId("sign-in").hidden = false;
    byId("sign-in-error").textContent = message || "";
    byId("token").focus();
  }

  function load() {
    var main = byId("main");
    byId("sign-in").hidden = true;
    byId("sign-out").hidden = false;
    main.hidden = false;
    htmx.ajax("GET", main.dataset.src, { target: "#main", swap: "innerHTML" });
  }

  document.addEventListener("htmx:configRequest", function (e) {
    var t = token();
    if (t) {
      e.detail.headers["Authorization"] = "Bearer " + t;
    }
  });

  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    if (xhr.status === 401 || xhr.status === 403) {
      sessionStorage.removeItem(KEY);
      showSignIn("The token was refused: " + xhr.responseText);
      return;
    }
    var flash = byId("flash");
    flash.textContent = xhr.status + ": " + xhr.responseText;
    flash.hidden = false;
  });

  document.addEventListener("htmx:beforeRequest", function () {
    byId("flash").hidden = true;
  });

  document.addEventListener("DOMContentLoaded", function () {
    byId("sign-in-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var value = byId("token").value.trim();
      byId("token").value = "";
      if (!value) {
        showSignIn("Paste an admin token.");
        return;
      }
      sessionStorage.setItem(KEY, value);
      load();
    });
    byId("sign-out").addEventListener("click", function () {
      sessionStorage.removeItem(KEY);
      location.assign("/console");
    });
    if (token()) {
      load();
    } else {
      showSignIn("");
    }
  });
})();
