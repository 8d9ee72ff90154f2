"""The app's part that applies the user's ``[keys]`` table and ``ui.mouse`` (F12 toggles the mouse)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App

from holysheep_tui.i18n import N_, _
from holysheep_tui.tui.keys import Keymap, resolve_keymap

if TYPE_CHECKING:
    from holysheep_tui.config import Config

MOUSE_OFF = N_("Mouse off: select text with the terminal (F12 turns the mouse back on).")
MOUSE_ON = N_("Mouse on: click and scroll in the app (F12 leaves selecting to the terminal).")


class UserKeysApp(App[None]):
    """Keys in force (``keymap``) and whether the app takes the mouse (``mouse_on``)."""

    keymap: Keymap = Keymap()
    mouse_on: bool = True

    def apply_user_keys(self, config: Config) -> None:
        """The config's keymap (its problems as one notice, never a crash) and mouse setting."""
        keymap = resolve_keymap(config.keys)
        self.keymap = keymap
        self.set_keymap(keymap.applied)
        if keymap.problems:
            self.notify(
                "\n".join(keymap.problems), title=_("Keys not changed"), severity="warning", timeout=15
            )
        if config.ui.mouse != self.mouse_on:
            self.set_mouse(config.ui.mouse)

    def set_mouse(self, on: bool, *, tell: bool = True) -> None:
        """Turn the terminal's mouse reporting on or off while the app runs."""
        self.mouse_on = on
        driver = self._driver
        if driver is not None:
            # Textual 8.2 has no public switch: the driver's own mouse flag and its enable/disable
            # methods (Linux and Windows drivers; a headless driver has neither method).
            if on:
                driver._mouse = True
                enable = getattr(driver, "_enable_mouse_support", None)
                if enable is not None:
                    enable()
            else:
                disable = getattr(driver, "_disable_mouse_support", None)
                if disable is not None:
                    disable()
                driver._mouse = False
        if tell:
            self.notify(_(MOUSE_ON) if on else _(MOUSE_OFF), title=_("Mouse"), timeout=4)

    def action_toggle_mouse(self) -> None:
        self.set_mouse(not self.mouse_on)
