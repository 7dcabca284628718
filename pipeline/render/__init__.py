"""Rendering: personal newsletters and alerts, compiled once and rendered per recipient."""

from __future__ import annotations

from pipeline.render.compile import Compiled, check_templates, compile_templates
from pipeline.render.message import render_messages

__all__ = ["Compiled", "check_templates", "compile_templates", "render_messages"]
