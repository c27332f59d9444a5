"""The Celery side of bench/celery/compare.py: a noop task, as cheap as ticketd's noop plugin."""
import os

from celery import Celery

app = Celery("bench", broker=os.environ["BENCH_REDIS_URL"], backend=os.environ["BENCH_REDIS_URL"])
app.conf.update(
    task_serializer="json", result_serializer="json", accept_content=["json"],
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)


@app.task(name="noop")
def noop(i):
    return i
