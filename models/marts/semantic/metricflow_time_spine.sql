-- One row per day 2000-01-01 .. 2030-12-31: the time spine MetricFlow joins metrics to.
select cast(range as date) as date_day
from range(date '2000-01-01', date '2031-01-01', interval 1 day)
