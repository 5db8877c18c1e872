"""The internal slices role: the one slice loop of store_migration, location_backfill and
object_migration, run here over scripted slices (no module, no cloud call) in one play."""


def test_each_loop_runs_to_the_end_and_starts_afresh_in_the_same_play(run_playbook):
    run = run_playbook("slices.yml")
    assert run.returncode == 0, run.output
    # three slices to left == 0, each given the slice's seconds, and one line each
    assert [one["progress"]["done"] for one in run.results["first"]] == [1, 2, 3], run.output
    assert all(0 < duration <= 60 for duration in run.results["first_durations"]), run.results
    lines = [line.split('"msg": "')[1] for line in run.output.splitlines() if '"msg": "first slice' in line]
    assert [line.split(",")[0] for line in lines] == [
        "first slice 1: 1/3 images", "first slice 2: 2/3 images", "first slice 3: 3/3 images"], run.output
    # the second loop keeps only its own slice: none of the first's results leak into it
    assert run.results["second"] == [{"failed": True, "msg": "scripted failure"}], run.results
    assert "second slice" not in run.output, run.output
    # work left, but slices_max_slices ran: no third slice
    assert [one["progress"]["done"] for one in run.results["third"]] == [1, 2], run.results
