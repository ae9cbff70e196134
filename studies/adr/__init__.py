"""OpenAI et al. 2019's automatic domain randomization study on PuckPush."""
