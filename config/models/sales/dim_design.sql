SELECT design_id, design_name, file_location, file_name
FROM design
