"""cp_predict: skeleton-based cerebral-palsy risk prediction with joint channel attention.

Research use only: not a diagnostic device.
"""

__version__ = "0.1.0"
RESEARCH_NOTICE = "Research use only: not a diagnostic device."
