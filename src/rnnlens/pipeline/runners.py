"""Where stages run: a pool of local worker processes, or Ray tasks on a cluster; the same jobs either way.

A runner has ``slots`` (jobs it runs at once), ``threads`` (torch threads of
each), ``submit(job)`` returning a
handle, ``wait(handles, timeout)`` returning the handles that finished with
their ``Outcome`` (or the exception that lost the worker), ``restart()``
after a lost worker (True when the other running jobs were lost with it),
``stop(signum)`` on the way out, and ``close()``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from rnnlens.errors import RnnlensError
from rnnlens.pipeline.execute import Job, Outcome, run_job, start_worker


class WorkerLost(Exception):
    """The process running a job died (killed, out of memory); the job can be retried."""


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """Torch threads for each of ``workers`` processes sharing ``cpus`` cores (at least 1)."""
    return max(1, (cpus or os.cpu_count() or 1) // workers)


class LocalRunner:
    """``workers`` processes (spawned fresh, each with ``threads`` torch threads) that die with this one."""

    def __init__(self, workers: int, threads: int) -> None:
        self.slots, self.threads = workers, threads
        self.pool = self._pool()

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=start_worker, initargs=(self.threads,))

    def submit(self, job: Job):
        return self.pool.submit(run_job, job)

    def wait(self, handles, timeout: float) -> list[tuple[object, Outcome | Exception]]:
        finished, _ = wait(list(handles), timeout=timeout, return_when=FIRST_COMPLETED)
        results = []
        for future in finished:
            try:
                results.append((future, future.result()))
            except BrokenProcessPool as err:
                results.append((future, WorkerLost(str(err) or "a worker process died")))
            except Exception as err:  # a bug in the job's own code: reported as that stage's failure
                results.append((future, err))
        return results

    def stop(self, signum: int) -> None:
        """Signal the workers (SIGTERM: a training saves a checkpoint and stops)."""
        for process in list(getattr(self.pool, "_processes", {}).values()):
            if process.is_alive():
                os.kill(process.pid, signum)

    def restart(self) -> bool:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._pool()
        return True

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def run_ray_job(job: Job, threads: int) -> Outcome:
    """A Ray task: the job in a Ray worker process with ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)
    return run_job(job)


class RayRunner:
    """Jobs as Ray tasks on the cluster at ``address`` (None: the one this process started, or a new local one).

    Each task asks for ``threads`` CPUs (and ``gpus`` GPUs, a fraction to share one); Ray retries a task
    whose worker died (``retries`` times), and a training then resumes from its checkpoint. Every node must
    see the output directory and the corpora at the same paths (a shared file system).
    """

    def __init__(self, address: str | None, workers: int | None, threads: int, gpus: float = 0.0,
                 retries: int = 3) -> None:
        try:
            import ray
        except ImportError:
            raise RnnlensError("the ray backend needs Ray, which is not installed: pip install 'rnnlens[ray]' (or run "
                               "here with --backend local)") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, **({} if address else {"include_dashboard": False}), log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots, self.threads = workers or max(1, cpus // threads), threads
        self.remote = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=retries)(run_ray_job)
        self.submitted: list = []

    def submit(self, job: Job):
        ref = self.remote.remote(job, self.threads)
        self.submitted.append(ref)
        return ref

    def wait(self, handles, timeout: float) -> list[tuple[object, Outcome | Exception]]:
        ready, _ = self.ray.wait(list(handles), num_returns=1, timeout=timeout)
        results = []
        for ref in ready:
            try:
                results.append((ref, self.ray.get(ref)))
            except self.ray.exceptions.WorkerCrashedError as err:
                results.append((ref, WorkerLost(str(err).splitlines()[0])))
            except self.ray.exceptions.RayTaskError as err:
                results.append((ref, err))
        return results

    def stop(self, signum: int) -> None:
        """Cancel the running tasks (a training continues from its last checkpoint next time)."""
        for ref in self.submitted:
            self.ray.cancel(ref)

    def restart(self) -> bool:
        """Ray has already retried the task, and the other tasks run on: nothing to restart."""
        return False

    def close(self) -> None:
        """The cluster outlives the run (``ray.shutdown()`` is the caller's, for one it started)."""
