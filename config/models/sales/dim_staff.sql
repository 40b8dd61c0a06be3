SELECT staff_id, first_name, last_name, department_name, location, email_address
FROM staff
