// allmende: the map of a table with geometries (Leaflet). Features come from the rows API as
// GeoJSON; popups list a feature's properties, set as textContent only. Leaflet's own words
// (the titles of its link and of the popups' close button) follow the page's language: the
// page hands them over as data-msg-* attributes.
(function () {
  "use strict";

  function popup(properties) {
    var box = document.createElement("dl");
    box.className = "map-popup";
    box.setAttribute("data-user-content", "");
    Object.keys(properties || {}).forEach(function (key) {
      var value = properties[key];
      if (value === null || value === undefined || value === "") { return; }
      var term = document.createElement("dt");
      term.textContent = key;
      var detail = document.createElement("dd");
      detail.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
      box.appendChild(term);
      box.appendChild(detail);
    });
    return box;
  }

  function failed(element) {
    var note = document.createElement("p");
    note.className = "map-error";
    note.setAttribute("role", "alert");
    note.textContent = element.getAttribute("data-msg-failed") || "";
    element.appendChild(note);
  }

  // Without a tile server the map still shows where things are: the outlines and names of
  // the organizations' areas, stored with the organizations (works offline).
  function areas(map, element) {
    element.classList.add("map-offline");
    var request = new XMLHttpRequest();
    request.open("GET", element.getAttribute("data-areas-url"));
    request.onload = function () {
      var data;
      try { data = JSON.parse(request.responseText); } catch (e) { return; }
      var layer = L.geoJSON(data, {
        interactive: false,
        style: function () {
          return { color: "#7a8b99", weight: 1.5, fillColor: "#eef2f5", fillOpacity: 0.8 };
        },
        onEachFeature: function (feature, areaLayer) {
          var label = document.createElement("span");
          label.setAttribute("data-user-content", "");
          label.textContent = (feature.properties || {}).name || "";
          areaLayer.bindTooltip(label, { permanent: true, direction: "center",
                                         className: "map-area-label" });
        }
      }).addTo(map);
      layer.bringToBack();
      element.setAttribute("data-areas", String(layer.getLayers().length));
    };
    request.send();
  }

  // Leaflet's credit link, with its title in the page's language.
  function prefix(title) {
    var box = document.createElement("span");
    box.innerHTML = L.Control.Attribution.prototype.options.prefix;  // Leaflet's own markup
    var link = box.querySelector("a");
    if (link && title) { link.title = title; }
    return box.innerHTML;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("map");
    if (!element || !window.L) { return; }
    var map = L.map(element, { preferCanvas: false, zoomControl: false }).setView([51.5, 7.4], 9);
    L.control.zoom({ zoomInTitle: element.getAttribute("data-msg-zoom-in") || "+",
                     zoomOutTitle: element.getAttribute("data-msg-zoom-out") || "-" }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    map.attributionControl.setPrefix(prefix(element.getAttribute("data-msg-leaflet")));
    map.on("popupopen", function (event) {
      var close = event.popup.getElement().querySelector(".leaflet-popup-close-button");
      var label = element.getAttribute("data-msg-close");
      if (close && label) { close.setAttribute("aria-label", label); close.title = label; }
    });
    var tiles = element.getAttribute("data-tile-url");
    if (tiles) {
      // Leaflet shows the attribution as HTML: escape the configured text.
      var credit = document.createElement("span");
      credit.textContent = element.getAttribute("data-tile-attribution") || "";
      L.tileLayer(tiles, { maxZoom: 19, attribution: credit.innerHTML }).addTo(map);
    } else {
      areas(map, element);
    }
    var request = new XMLHttpRequest();
    request.open("GET", element.getAttribute("data-geojson-url"));
    request.setRequestHeader("Accept", "application/geo+json, application/json");
    request.onload = function () {
      var data;
      try { data = JSON.parse(request.responseText); } catch (e) { data = null; }
      if (request.status !== 200 || !data) { failed(element); return; }
      var layer = L.geoJSON(data, {
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, { radius: 6, color: "#003d57", weight: 2,
                                          fillColor: "#ffbf47", fillOpacity: 0.9 });
        },
        style: function () { return { color: "#00577a", weight: 2 }; },
        onEachFeature: function (feature, featureLayer) {
          featureLayer.bindPopup(function () { return popup(feature.properties); });
        }
      }).addTo(map);
      var bounds = layer.getBounds();
      if (bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 }); }
      element.setAttribute("data-features", String(layer.getLayers().length));
    };
    request.onerror = function () { failed(element); };
    request.send();
  });
})();
