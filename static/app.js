// Live updates (Server-Sent Events), seeking, Create Clip without reloading, uploads with progress,
// and the clips page.
// Every page also works without this file: forms post and pages reload.
(function () {
  "use strict";
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  // Live updates start after the change this page was rendered at: nothing in between is missed.
  const eventsSince = document.body.dataset.eventsSince;
  const STATUS_COLOURS = {Pending: "secondary", Queued: "secondary", Downloading: "info", Processing: "primary",
                          Processed: "success", Error: "danger", Cancelled: "warning"};
  const UNFINISHED = ["Pending", "Queued", "Downloading", "Processing"];

  function formatSeconds(value) {
    if (value === null || value === undefined) return "";
    const whole = Math.floor(value);
    return Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0");
  }

  function stepText(job) {
    if (job.status === "Error") return job.step && job.step !== "failed" ? "failed during " + job.step : "failed";
    let text = job.step || "";
    if (job.detail && (job.status === "Downloading" || job.status === "Processing")) text += " · " + job.detail;
    return text;
  }

  function paintStatus(container, job) {
    const badge = container.querySelector('[data-field="status"]');
    if (badge) {
      badge.textContent = job.status;
      badge.className = "badge text-bg-" + (STATUS_COLOURS[job.status] || "secondary");
    }
    const step = container.querySelector('[data-field="step"]');
    if (step) step.textContent = stepText(job);
    const progress = container.querySelector('[data-field="progress"]');
    if (progress) {
      const percent = Math.round((job.progress || 0) * 100);
      progress.setAttribute("aria-valuenow", percent);
      const bar = progress.querySelector(".progress-bar");
      bar.style.width = percent + "%";
      bar.textContent = percent + "%";
      const running = job.status === "Downloading" || job.status === "Processing";
      bar.classList.toggle("progress-bar-striped", running);
      bar.classList.toggle("progress-bar-animated", running);
      bar.classList.toggle("bg-danger", job.status === "Error");
    }
  }

  // --- home: the job table -------------------------------------------------
  const table = document.getElementById("jobs-table");
  // A section of the table (a <tbody>) holds either a playlist's group or jobs of no playlist.
  function sectionFor(job) {
    if (job.group_id) {
      let group = table.querySelector('tbody[data-group-id="' + job.group_id + '"]');
      if (!group) {  // a playlist queued since the page was rendered: its header comes from the API
        group = document.getElementById("group-template").content.firstElementChild.cloneNode(true);
        group.dataset.groupId = job.group_id;
        setUpGroup(group);
        table.insertBefore(group, table.tBodies[0] || null);
      }
      return group;
    }
    let section = table.tBodies[0];
    if (!section || section.dataset.groupId) {
      section = document.createElement("tbody");
      table.insertBefore(section, table.tBodies[0] || null);
    }
    return section;
  }

  function upsertRow(job) {
    let row = table.querySelector('tr[data-job-id="' + job.id + '"]');
    if (!row) {
      if (new URLSearchParams(location.search).get("page") > 1) return;  // new jobs belong on page 1
      row = document.getElementById("job-row-template").content.firstElementChild.cloneNode(true);
      row.dataset.jobId = job.id;
      row.querySelector('input[name="job_ids"]').value = job.id;
      if (job.group_id) sectionFor(job).append(row);  // a playlist's videos in its order
      else sectionFor(job).prepend(row);  // the newest job first
      const empty = document.getElementById("no-jobs");
      if (empty) empty.remove();
    }
    const title = row.querySelector('[data-field="title"]');
    title.textContent = job.title || job.url;
    title.href = job.details_url;
    let error = row.querySelector('[data-field="error"]');
    if (job.error) {
      if (!error) {
        error = document.createElement("div");
        error.className = "small text-danger";
        error.dataset.field = "error";
        title.after(error);
      }
      error.textContent = job.error;
    } else if (error) {
      error.remove();
    }
    row.querySelector('[data-field="duration"]').textContent = formatSeconds(job.duration);
    paintStatus(row, job);
  }

  function refreshCounts() {
    fetch("/api/jobs?limit=1").then((r) => r.json()).then((data) => {
      document.getElementById("count-queued").textContent = data.counts.queued;
      document.getElementById("count-active").textContent = data.counts.active;
      document.getElementById("count-total").textContent = data.total;
    }).catch(() => {});
  }

  // A playlist's group: its header (counts by status, Cancel all) follows its jobs; it can be collapsed.
  const COUNT_ORDER = ["Downloading", "Processing", "Pending", "Queued", "Processed", "Error", "Cancelled"];
  const groupTimers = {};

  function setUpGroup(section) {
    const toggle = section.querySelector(".group-toggle");
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.setAttribute("aria-label", (open ? "Hide" : "Show") + " the playlist's videos");
      toggle.textContent = open ? "\u25BE" : "\u25B8";
      section.classList.toggle("collapsed", !open);
    });
  }

  function paintGroup(group) {
    const section = table.querySelector('tbody[data-group-id="' + group.id + '"]');
    if (!section) return;
    const title = section.querySelector('[data-field="group-title"]');
    title.textContent = group.title;
    title.href = group.url;
    section.querySelector('[data-field="group-note"]').textContent = group.note || "";
    section.querySelector('[data-field="group-submitted-by"]').textContent =
      group.submitted_by ? "submitted by " + group.submitted_by : "";
    section.querySelector('[data-field="group-counts"]').replaceChildren(...COUNT_ORDER.filter((s) => group.counts[s])
      .flatMap((status) => {
        const badge = document.createElement("span");
        badge.className = "badge text-bg-" + STATUS_COLOURS[status];
        badge.textContent = group.counts[status] + " " + status;
        return [badge, " "];
      }));
    const cancel = section.querySelector('[data-field="group-cancel"]');
    cancel.formAction = "/groups/" + group.id + "/cancel";
    cancel.hidden = !UNFINISHED.some((status) => group.counts[status]);
    section.querySelector('[data-field="group-delete"]').formAction = "/groups/" + group.id + "/delete";
  }

  function refreshGroup(groupId) {
    clearTimeout(groupTimers[groupId]);
    groupTimers[groupId] = setTimeout(() => {
      fetch("/api/groups/" + groupId).then((r) => {
        if (r.status !== 404) return r.json().then((data) => paintGroup(data.group));
        const section = table.querySelector('tbody[data-group-id="' + groupId + '"]');  // its last job is gone
        if (section) section.remove();
      }).catch(() => {});
    }, 300);
  }

  if (table) {
    let countsTimer = null;
    table.querySelectorAll("tbody[data-group-id]").forEach(setUpGroup);
    listenLive(eventsSince, {
      job(job) {
        upsertRow(job);
        if (job.group_id) refreshGroup(job.group_id);
        clearTimeout(countsTimer);
        countsTimer = setTimeout(refreshCounts, 300);
      },
      deleted(job) {
        const row = table.querySelector('tr[data-job-id="' + job.id + '"]');
        if (row) {
          const groupId = row.closest("tbody").dataset.groupId;
          row.remove();
          if (groupId) refreshGroup(groupId);
        }
        refreshCounts();
      },
      resync: () => location.reload(),
    });
    document.getElementById("select-all").addEventListener("change", (event) => {
      table.querySelectorAll('input[name="job_ids"]').forEach((box) => { box.checked = event.target.checked; });
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      // A group's Cancel all and Delete all post this form elsewhere and ask their own question.
      const own = event.submitter && event.submitter.dataset.confirm;
      if (!own && form.id === "jobs-form" && !form.querySelector('input[name="job_ids"]:checked')) {
        event.preventDefault();
        alert("Select at least one job to delete.");
        return;
      }
      if (!confirm(own || form.dataset.confirm)) event.preventDefault();
    });
  });

  // --- home: upload a file (picked, or dropped anywhere on the page), showing its progress -------
  const uploadForm = document.getElementById("upload-form");
  if (uploadForm) {
    const fileInput = document.getElementById("upload-file");
    const progress = document.getElementById("upload-progress");
    const state = document.getElementById("upload-state");
    const button = document.getElementById("upload-button");
    const tooLarge = "larger than the upload limit of " + uploadForm.dataset.maxMb + " MB (MAX_UPLOAD_MB).";
    let uploading = false;

    const say = (text, colour) => {
      state.textContent = text;
      state.className = "small mt-1 text-" + colour;
    };
    const show = (fraction) => {
      const percent = Math.round(fraction * 100);
      progress.setAttribute("aria-valuenow", percent);
      progress.firstElementChild.style.width = percent + "%";
      progress.firstElementChild.textContent = percent + "%";
    };

    function upload(file) {
      if (uploading) return;
      if (!file) return say("Choose a video or audio file to upload.", "danger");
      // Said before sending: the server refuses a body over the limit as soon as it sees its length.
      if (file.size > Number(uploadForm.dataset.maxBytes)) {
        return say("'" + file.name + "' is " + (file.size / 1048576).toFixed(0) + " MB, " + tooLarge, "danger");
      }
      const data = new FormData(uploadForm);
      data.set("file", file);
      const request = new XMLHttpRequest();
      request.open("POST", uploadForm.action);
      request.setRequestHeader("Accept", "application/json");
      // The token in a header is checked before the body is read (the field too, after it, without script).
      request.setRequestHeader("X-CSRFToken", data.get("csrf_token"));
      request.responseType = "json";
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) show(event.loaded / event.total);
      });
      const done = (text, colour) => {
        uploading = false;
        button.disabled = false;
        say(text, colour);
      };
      request.addEventListener("load", () => {
        if (request.status === 201) {
          show(1);
          fileInput.value = "";
          return done("Uploaded '" + file.name + "': it is queued as job " + request.response.id + ".", "success");
        }
        progress.hidden = true;
        if (request.status === 413) return done("'" + file.name + "' is " + tooLarge, "danger");
        done((request.response && request.response.error) || "The upload failed (HTTP " + request.status + ").", "danger");
      });
      request.addEventListener("error", () => {
        progress.hidden = true;
        done("The upload failed: the connection to the server was lost.", "danger");
      });
      uploading = true;
      button.disabled = true;
      progress.hidden = false;
      show(0);
      say("Uploading '" + file.name + "'…", "secondary");
      request.send(data);
    }

    uploadForm.addEventListener("submit", (event) => {
      event.preventDefault();
      upload(fileInput.files[0]);
    });
    const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
    document.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();  // a drop here uploads the file instead of opening it
      uploadForm.classList.add("dragging");
    });
    document.addEventListener("dragleave", (event) => {
      if (!event.relatedTarget) uploadForm.classList.remove("dragging");  // it left the window
    });
    document.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      uploadForm.classList.remove("dragging");
      if (event.dataTransfer.files.length !== 1) return say("Drop one file at a time.", "danger");
      fileInput.files = event.dataTransfer.files;
      upload(fileInput.files[0]);
    });
  }

  // --- clips page: select, download several as a zip, play; statuses follow along ---
  const clipRows = document.getElementById("clip-rows");
  if (clipRows) {
    const zipForm = document.getElementById("zip-form");
    document.getElementById("select-all-clips").addEventListener("change", (event) => {
      clipRows.querySelectorAll('input[name="ids"]:not(:disabled)').forEach((box) => { box.checked = event.target.checked; });
    });
    zipForm.addEventListener("submit", (event) => {
      if (!zipForm.querySelector('input[name="ids"]:checked')) {
        event.preventDefault();
        alert("Select at least one ready clip to download.");
      }
    });
    // Opening a clip's "Play" plays it; closing it stops it. (toggle does not bubble: listen while capturing.)
    clipRows.addEventListener("toggle", (event) => {
      const video = event.target.querySelector("video");
      if (video && event.target.open) video.play().catch(() => {});
      else if (video) video.pause();
    }, true);
    listenLive(eventsSince, {
      clip(clip) {
        const row = clipRows.querySelector('[data-clip-id="' + clip.id + '"]');
        if (!row || row.dataset.status === clip.status) return;
        row.dataset.status = clip.status;
        row.querySelector(".clip-status").textContent = clip.status;
        row.querySelector('input[name="ids"]').disabled = clip.status !== "Created";
        const actions = row.querySelector(".clip-actions");
        if (clip.status === "Created") {
          const play = document.createElement("details");
          play.className = "clip-play w-100";
          play.innerHTML = '<summary class="small">Play</summary><video class="w-100 rounded bg-black mt-1" controls preload="none"></video>';
          play.querySelector("video").src = clip.url;
          const download = document.createElement("a");
          download.className = "btn btn-outline-primary btn-sm";
          download.href = clip.download_url;
          download.textContent = "Download MP4";
          actions.replaceChildren(play, download);
        } else if (clip.status === "Failed") {
          const error = document.createElement("div");
          error.className = "small text-danger";
          error.textContent = clip.error;
          actions.replaceChildren(error);
        }
      },
      deleted(job) {
        clipRows.querySelectorAll('[data-job-id="' + job.id + '"]').forEach((row) => row.remove());
      },
      resync: () => location.reload(),
    });
  }

  // --- details: live status, player, timeline, clips ---------------------------
  const jobBox = document.getElementById("job");
  if (!jobBox) return;
  const jobId = Number(jobBox.dataset.jobId);
  listenLive(eventsSince, {
    job(job) {
      if (job.id !== jobId) return;
      paintStatus(jobBox, job);
      // The analysis (segments, candidates) is rendered by the server: reload once it is ready or failed.
      if (job.status !== jobBox.dataset.status && !UNFINISHED.includes(job.status)) location.reload();
      jobBox.dataset.status = job.status;
    },
    clip(clip) {
      if (clip.job_id === jobId) showClip(clip);
    },
    deleted(job) {
      if (job.id === jobId) location.href = "/";
    },
    // The stream lost its place (the server restarted, or this tab was away too long): the page's
    // status, analysis and clips may all be out of date, so load it afresh.
    resync: () => location.reload(),
  });

  const player = document.getElementById("player");
  function seek(seconds) {
    if (!player) return;
    player.currentTime = seconds;
    player.play().catch(() => {});
  }
  document.querySelectorAll(".segment[data-start]").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      seek(parseFloat(link.dataset.start));
    });
  });
  // A search hit links here as /jobs/<id>?t=<seconds>: play from there (if the browser lets a page
  // start playing by itself; otherwise it waits at that second) and show that segment in the list.
  const startAt = parseFloat(new URLSearchParams(location.search).get("t"));
  if (player && startAt >= 0) {
    const playFromHit = () => {
      seek(startAt);
      const segment = Array.from(document.querySelectorAll("#segments .segment")).find((s) =>
        startAt >= parseFloat(s.dataset.start) && startAt < parseFloat(s.dataset.end));
      if (!segment) return;
      const box = segment.closest(".analysis-tabs");  // scroll the list, not the page
      box.scrollTop += segment.getBoundingClientRect().top - box.getBoundingClientRect().top;
    };
    if (player.readyState >= 1) playFromHit();
    else player.addEventListener("loadedmetadata", playFromHit, {once: true});
  }
  const timeline = document.getElementById("timeline");
  if (timeline && player) {
    const duration = parseFloat(jobBox.dataset.duration) || 1;
    timeline.addEventListener("click", (event) => {
      const box = timeline.getBoundingClientRect();
      seek(duration * (event.clientX - box.left) / box.width);
    });
    const playhead = document.getElementById("playhead");
    const segments = Array.from(document.querySelectorAll("#segments .segment"));
    player.addEventListener("timeupdate", () => {
      const x = 1000 * player.currentTime / duration;
      playhead.setAttribute("x1", x);
      playhead.setAttribute("x2", x);
      segments.forEach((s) => s.classList.toggle("active",
        player.currentTime >= parseFloat(s.dataset.start) && player.currentTime < parseFloat(s.dataset.end)));
    });
  }

  const clipList = document.getElementById("clip-list");
  const waiting = new Map();  // clip id -> state element of the form that asked for it

  function showClip(clip) {
    const state = waiting.get(clip.id);
    if (state && clip.status !== "Creating") {
      state.textContent = clip.status === "Created" ? "Created" : "Failed: " + clip.error;
      state.className = "small clip-state " + (clip.status === "Created" ? "text-success" : "text-danger");
      waiting.delete(clip.id);
    }
    let card = clipList.querySelector('[data-clip-id="' + clip.id + '"]');
    if (!card) {
      card = document.createElement("div");
      card.className = "card mb-2 clip";
      card.dataset.clipId = clip.id;
      card.innerHTML = '<div class="card-body p-2"><div class="small mb-1"></div><div class="clip-body"></div></div>';
      clipList.prepend(card);
      const empty = document.getElementById("no-clips");
      if (empty) empty.remove();
    }
    if (card.dataset.status === clip.status) return;
    card.dataset.status = clip.status;
    let label = "Clip " + clip.id + " · " + clip.start.toFixed(1) + "–" + clip.end.toFixed(1) + " s";
    if (clip.captions) label += " · captions";
    if (clip.vertical) label += " · 9:16";
    card.querySelector(".small").textContent = label + " · " + clip.status;
    const body = card.querySelector(".clip-body") || card.querySelector(".card-body");
    if (clip.status === "Created") {
      const video = document.createElement("video");
      video.className = "w-100 rounded bg-black";
      video.controls = true;
      video.preload = "metadata";
      video.src = clip.url;
      const download = document.createElement("a");
      download.className = "btn btn-outline-primary btn-sm mt-1";
      download.href = clip.download_url;
      download.textContent = "Download MP4";
      body.replaceChildren(video, download);
    } else if (clip.status === "Failed") {
      const error = document.createElement("div");
      error.className = "text-danger small";
      error.textContent = clip.error;
      body.replaceChildren(error);
    }
  }

  function pollClip(clipId) {
    // The event stream normally reports the result; polling covers a dropped stream.
    fetch("/api/clips/" + clipId).then((r) => r.json()).then((clip) => {
      showClip(clip);
      if (clip.status === "Creating") setTimeout(() => pollClip(clipId), 1500);
    }).catch(() => setTimeout(() => pollClip(clipId), 3000));
  }

  document.querySelectorAll("form.clip-form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const state = form.querySelector(".clip-state");
      const data = new FormData(form);
      const body = {captions: data.has("captions"), vertical: data.has("vertical")};
      if (data.get("candidate_id")) body.candidate_id = data.get("candidate_id");
      else { body.start = data.get("start"); body.end = data.get("end"); }
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      state.className = "small clip-state text-secondary";
      state.textContent = "Creating…";
      fetch("/api/jobs/" + jobId + "/clips", {
        method: "POST", headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken},
        body: JSON.stringify(body),
      }).then((r) => r.json().then((payload) => ({ok: r.ok, payload}))).then(({ok, payload}) => {
        button.disabled = false;
        if (!ok) {
          state.className = "small clip-state text-danger";
          state.textContent = "Failed: " + payload.error;
          return;
        }
        waiting.set(payload.id, state);
        showClip(payload);
        setTimeout(() => pollClip(payload.id), 1500);
      }).catch(() => {
        button.disabled = false;
        state.className = "small clip-state text-danger";
        state.textContent = "Failed: the server did not answer.";
      });
    });
  });
})();
