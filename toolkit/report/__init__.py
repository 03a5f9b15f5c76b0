"""Report helpers shared by notebooks: plotly figures and display tables."""
