"""`mtl run` flags added for scale-out: --workers (local multi-worker training) and
--beam-workers (Beam's portable runner with an external worker pool)."""

from __future__ import annotations

import pytest

from pipeline.cli.run_flags import portable_beam_args, run_config
from pipeline.core.config import DEFAULT_BEAM_ARGS


def test_beam_workers_pool_gives_the_portable_runner_flags():
    assert portable_beam_args("pool:localhost:50000") == (
        "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000")
    assert portable_beam_args("pool:10.0.0.5:7000")[-1] == "--environment_config=10.0.0.5:7000"
    config = run_config(["--beam-workers", "pool:localhost:50000",
                         "--beam-arg=--experiments=beam_fn_api"])
    assert config.beam_pipeline_args == (*portable_beam_args("pool:localhost:50000"),
                                         "--experiments=beam_fn_api")
    assert run_config([]).beam_pipeline_args == DEFAULT_BEAM_ARGS


@pytest.mark.parametrize("spec", ["localhost:50000", "pool:localhost", "pool::1",
                                  "pool:h:port", "pool:50000"])
def test_a_bad_pool_spec_is_refused_with_the_expected_form(spec):
    with pytest.raises(ValueError, match="expected pool:HOST:PORT"):
        portable_beam_args(spec)


def test_workers_go_with_the_multi_worker_strategy_only():
    config = run_config(["--strategy", "multi_worker_mirrored", "--workers", "3"])
    assert (config.distribution_strategy, config.local_workers) == ("multi_worker_mirrored", 3)
    with pytest.raises(ValueError, match="local_workers=2 needs distribution_strategy "
                                         "multi_worker_mirrored, got 'default'"):
        run_config(["--workers", "2"])
    with pytest.raises(ValueError, match="local_workers must be at least 1, got 0"):
        run_config(["--strategy", "multi_worker_mirrored", "--workers", "0"])


def test_epochs_default_to_auto_and_take_a_number_or_auto(capsys):
    assert run_config([]).hparams.epochs == "auto"
    assert run_config([]).hparams.auto_epochs
    assert run_config(["--epochs", "4"]).hparams.epochs == 4
    assert run_config(["--epochs", "AUTO"]).hparams.epochs == "auto"
    for bad in ("0", "-1", "2.5", "many"):
        with pytest.raises(SystemExit):
            run_config(["--epochs", bad])
        assert "epochs must be 'auto' or a whole number >= 1" in capsys.readouterr().err
