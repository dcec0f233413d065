"""The verdict banner names the transition the person just made (issue 11)."""

from __future__ import annotations

from weightwatch.tui.widgets import banner as banner_module

from .conftest import make_app, running, until

SIZE = (120, 40)


async def test_a_resume_after_rebuild_and_recompile_keeps_the_recompiles_banner(app, fake):
    """Paused: rebuild, then recompile, then resume. The resume's own verdict folds both
    (`reset`: the log says so), but the banner stays on what was done last: optimizer_reset."""
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(40)
        fake.pause()
        fake.boundary()
        fake.rebuild(3)
        fake.recompile("sgd")
        await until(lambda: getattr(app.dashboard.banner_event, "kind", "") == "recompiled", pilot)
        fake.resume()
        fake.boundary()
        await until(lambda: any(e.kind == "resume" for e in app.dashboard.events), pilot)
        resume = [e for e in app.dashboard.events if e.kind == "resume"][-1]
        assert resume.verdict == "reset"  # the segment's verdict: fresh weights, fresh optimizer
        assert app.dashboard.banner_event.kind == "recompiled"
        assert app.dashboard.banner_event.verdict == "optimizer_reset"


async def test_a_resume_after_a_plain_pause_shows_continued(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(40)
        fake.pause()
        fake.boundary()
        fake.resume()
        fake.boundary()
        await until(lambda: getattr(app.dashboard.banner_event, "kind", "") == "resume", pilot)
        assert app.dashboard.banner_event.verdict == "continued"


async def test_banner_turns_muted_after_lingering(fake, monkeypatch):
    """The timer itself (the other TUI tests pin a verdict on the banner): a verdict shows in
    its colour for its linger, then the muted "last verdict" line, in the same row."""
    monkeypatch.setattr(banner_module, "LINGER_S", 0.3)
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        banner = app.dashboard.query_one("#banner")
        assert banner.linger == 0.3
        await until(lambda: banner.event is not None, pilot)
        await until(lambda: banner.verdict is None, pilot)
        assert banner.has_class("-past") and not banner.has_class("-shown")
        assert banner.text.startswith("last verdict: ★ fresh")
