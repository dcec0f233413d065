"""Test doubles. `fake_session.FakeSession` implements `weightwatch.engine.api.SessionAPI`
without TensorFlow; tests/conformance/ runs the same behaviour tests against it and the engine."""
