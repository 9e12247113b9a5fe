// The admin app's entry: the shell (sign-in, navigation, notifications) is in the initial bundle; every
// page, and the expression editor, loads on demand.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

mount(App, { target: document.getElementById('app')! });
