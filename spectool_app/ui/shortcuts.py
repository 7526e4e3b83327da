"""The page-head script for the Annotate tab's keyboard shortcuts (gradio has no hotkeys).

Keys 1-4 pick a label, j/k go to the next/previous item, Enter saves; they act only while
the Annotate tab is visible and the focus is not in a text field. The script only clicks
elements by the ``elem_id`` values below, so it knows nothing else about the page.
"""

from __future__ import annotations

LABEL_RADIO_ID = "annotate-label"  # gr.Radio with the four labels
NEXT_ID = "annotate-next"  # button: next item (j)
PREVIOUS_ID = "annotate-prev"  # button: previous item (k)
SAVE_ID = "annotate-save"  # button: save the label (Enter)
PANEL_ID = "annotate-panel"  # the tab's column; shortcuts are off while it is hidden

SHORTCUTS_JS = """
(() => {
  const LABEL_KEYS = {"1": 0, "2": 1, "3": 2, "4": 3};
  const ids = {radio: "%(radio)s", next: "%(next)s", prev: "%(prev)s", save: "%(save)s", panel: "%(panel)s"};
  const typing = (el) => {
    if (!el || !el.tagName) return false;
    const tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || el.isContentEditable) return true;
    if (tag !== "input") return false;
    return !["radio", "checkbox", "button", "range", "submit"].includes((el.type || "text").toLowerCase());
  };
  const visible = () => {
    const panel = document.getElementById(ids.panel);
    return !!panel && panel.offsetParent !== null;
  };
  const press = (id) => {
    const el = document.getElementById(id);
    if (!el) return false;
    const button = el.tagName === "BUTTON" ? el : el.querySelector("button");
    if (!button) return false;
    button.click();
    return true;
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || !visible()) return;
    let handled = false;
    if (event.key in LABEL_KEYS) {
      const radios = document.querySelectorAll("#" + ids.radio + " input[type=radio]");
      const radio = radios[LABEL_KEYS[event.key]];
      if (radio) { radio.click(); handled = true; }
    } else if (event.key === "j") {
      handled = press(ids.next);
    } else if (event.key === "k") {
      handled = press(ids.prev);
    } else if (event.key === "Enter") {
      handled = press(ids.save);
    }
    if (handled) event.preventDefault();
  });
})();
""" % {"radio": LABEL_RADIO_ID, "next": NEXT_ID, "prev": PREVIOUS_ID, "save": SAVE_ID, "panel": PANEL_ID}

HEAD = f"<script>{SHORTCUTS_JS}</script>"  # passed to launch(head=...)
