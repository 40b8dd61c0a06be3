-- One row per day of the month (the calendar the worker provides).
SELECT date AS date_id, year, month, day, day_of_week, day_name, month_name, quarter
FROM calendar
