// allmende: the map of a table with geometries (Leaflet). Features come from the rows API as
// GeoJSON; popups list a feature's properties, set as textContent only.
(function () {
  "use strict";

  function popup(properties) {
    var box = document.createElement("dl");
    box.className = "map-popup";
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

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("map");
    if (!element || !window.L) { return; }
    var map = L.map(element, { preferCanvas: false }).setView([51.5, 7.4], 9);
    var tiles = element.getAttribute("data-tile-url");
    if (tiles) {
      // Leaflet shows the attribution as HTML: escape the configured text.
      var credit = document.createElement("span");
      credit.textContent = element.getAttribute("data-tile-attribution") || "";
      L.tileLayer(tiles, { maxZoom: 19, attribution: credit.innerHTML }).addTo(map);
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
